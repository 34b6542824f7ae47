"""DrawBench's 200 prompts (Saharia et al. 2022, Imagen) shipped as package data, and choosing categories by name."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# DOODL §5.1 evaluates on these two categories, 9 seeds per method and prompt
PAPER_CATEGORIES = ("DALL-E", "Reddit")
NUM_PROMPTS = 200  # the published sheet


@dataclass(frozen=True)
class DrawBenchPrompt:
    """One DrawBench row: the prompt, its category and its 0-based row in the sheet."""

    prompt: str
    category: str
    index: int


@lru_cache(maxsize=1)
def load_drawbench() -> tuple[DrawBenchPrompt, ...]:
    """All 200 DrawBench prompts in sheet order (data/drawbench/drawbench.csv, UTF-8 with a BOM)."""
    raw = resources.files("doodl.data").joinpath("drawbench", "drawbench.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    if not rows or {"Prompt", "Category"} - set(rows[0]):
        raise ValueError("the packaged drawbench.csv must have the columns Prompt,Category")
    out = tuple(DrawBenchPrompt(r["Prompt"].strip(), r["Category"].strip(), i) for i, r in enumerate(rows))
    if len(out) != NUM_PROMPTS or not all(p.prompt and p.category for p in out):
        raise ValueError(f"the packaged drawbench.csv should hold {NUM_PROMPTS} prompts with categories, found {len(out)}")
    return out


def categories() -> list[str]:
    """DrawBench's 11 category names in sheet order."""
    return list(dict.fromkeys(p.category for p in load_drawbench()))


def select_categories(text: str) -> list[str]:
    """'DALL-E,Reddit' (any case; 'all' for every category) -> canonical category names, order kept."""
    known = {c.lower(): c for c in categories()}
    names = [t.strip() for t in str(text).split(",") if t.strip()]
    if not names:
        raise ValueError(f"--drawbench must name categories, e.g. 'DALL-E,Reddit' or 'all', got {text!r}")
    if any(n.lower() == "all" for n in names):
        return categories()
    unknown = [n for n in names if n.lower() not in known]
    if unknown:
        raise ValueError(f"--drawbench: unknown category {unknown[0]!r}; valid: {', '.join(categories())}, all")
    return list(dict.fromkeys(known[n.lower()] for n in names))


def drawbench_prompts(selected: list[str] | tuple[str, ...] | str) -> list[DrawBenchPrompt]:
    """The prompts of the chosen categories (names or a comma list), in sheet order."""
    chosen = set(select_categories(selected if isinstance(selected, str) else ",".join(selected)))
    return [p for p in load_drawbench() if p.category in chosen]
