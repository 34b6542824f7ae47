"""Model cards as data (<name>.json beside the weights) and the zoo README rendered from them."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..io.atomic import atomic_write_text
from ..io.jsontext import metrics_json
from .config import NAMES
from .registry import ENV_VAR, PACKAGE_DIR, card_path, zoo_dir

# The recipe for one H100 (data via $DOODL_FASHION_MNIST; `python -m` works from a PYTHONPATH=src checkout).
# --max-minutes caps each model's training loop (a run still saves when it bites); test accuracy, the sample grid
# and --sample-eval add ~10-30 s per model. The UNet's it/s shows in the first progress lines.
GPU_COMMANDS = """\
export PYTHONPATH=src DOODL_FASHION_MNIST=/path/to/fashion-mnist
# all four in one process (classifiers first; each model capped at 2.2 minutes of training):
python -m doodl.cli zoo train --into-package --model all --device cuda --amp --steps 3000 --batch-size 256 --max-minutes 2.2 --sample-eval 1000
# or one by one:
python -m doodl.cli zoo train --into-package --model fashion-guide --device cuda --amp --steps 3000 --batch-size 256 --max-minutes 1
python -m doodl.cli zoo train --into-package --model fashion-eval --device cuda --amp --steps 3000 --batch-size 256 --max-minutes 1
python -m doodl.cli zoo train --into-package --model fashion-ddpm --device cuda --amp --steps 3000 --batch-size 256 --max-minutes 2.2 --sample-eval 1000
python -m doodl.cli zoo train --into-package --model fashion-cond-ddpm --device cuda --amp --steps 3000 --batch-size 256 --max-minutes 2.2 --sample-eval 1000"""

CPU_SMOKE_COMMAND = "doodl zoo train --model all --steps 20 --batch-size 16 --limit 256 --grid-seeds 1 --out-dir /tmp/zoo-smoke"


@dataclass
class ModelCard:
    """What a zoo model is and how it was made: written by the trainers, rendered into the zoo README."""

    name: str
    kind: str  # "ddpm" or "classifier"
    arch: str  # UNet2DModel, GuidanceCNN or EvalCNN
    data: str  # which data and how many images
    steps: int  # optimiser steps taken
    batch_size: int
    final_loss: float  # mean training loss over the last log window
    seconds: float
    device: str
    command: str  # the command (or call) that made it
    torch_version: str
    params: int
    weights_file: str
    weights_bytes: int
    weights_sha256: str
    save_dtype: str
    seed: int
    test_accuracy: float | None = None  # classifiers: on the 10k test split
    stopped_early: bool = False
    created: str = ""  # UTC ISO time
    config: dict[str, Any] = field(default_factory=dict)  # the full training config
    extra: dict[str, Any] = field(default_factory=dict)  # sample grid file, sample metrics, library versions

    def to_json(self) -> str:
        """The card as indented JSON."""
        return metrics_json(asdict(self), f"model card {self.name}", indent=2, sort_keys=True, default=str) + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelCard":
        """Build from a dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def output_dir(out_dir: str | os.PathLike | None, into_package: bool = False, *, option: str = "--out-dir") -> Path:
    """Where trainers and `zoo cards` write: out_dir, else $DOODL_ZOO_DIR; the installed package's own zoo folder
    only when into_package is set (a plain run must never rewrite what the package ships). ValueError otherwise."""
    if out_dir is not None:
        return Path(out_dir)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    if into_package:
        return PACKAGE_DIR
    raise ValueError(f"give {option} DIR (or set ${ENV_VAR}); the default zoo folder is inside the installed package "
                     f"({PACKAGE_DIR}), rewritten only with --into-package")


def write_card(card: ModelCard, folder: str | os.PathLike) -> Path:
    """Write <folder>/<name>.json atomically."""
    path = card_path(card.name, folder)
    atomic_write_text(path, card.to_json())
    return path


def read_card(name: str, folder: str | os.PathLike | None = None) -> ModelCard | None:
    """The card of a zoo model, or None if absent; ValueError naming the file if it is not a valid card."""
    path = card_path(name, folder)
    if not path.is_file():
        return None
    try:
        return ModelCard.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as e:
        raise ValueError(f"model card {path} is not valid: {e}") from None


def _fmt(x: float | None, spec: str = ".4f") -> str:
    return "—" if x is None else format(x, spec)


def render_readme(folder: str | os.PathLike | None = None) -> str:
    """Markdown for the zoo folder: a table of all models with cards, one section per card, the GPU recipe."""
    folder = zoo_dir(folder)
    cards = [c for c in (read_card(n, folder) for n in NAMES) if c is not None]
    lines = [
        "# doodl model zoo (Fashion-MNIST)",
        "",
        "Generated by `doodl zoo cards` from the model cards (`<name>.json`) in this folder; do not edit by hand.",
        "Load by name: `doodl.zoo.load_fashion_backend(conditional=False|True)` or "
        "`load_fashion_backend(name='fashion-super-ddpm')` (4 superclass labels, `doodl.zoo.superclass`), "
        "`doodl.zoo.load_classifier('fashion-guide' | 'fashion-eval')`.",
        "FMNIST-FID is the Fréchet distance on fashion-eval's 128-d penultimate features: not comparable to published FID.",
        "",
        "| name | architecture | params | file | steps | batch | final loss | test accuracy | seconds | device |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for c in cards:
        lines.append(
            f"| {c.name} | {c.arch} | {c.params:,} | {c.weights_bytes / 1e6:.2f} MB ({c.save_dtype}) | {c.steps} | "
            f"{c.batch_size} | {c.final_loss:.4f} | {_fmt(c.test_accuracy)} | {c.seconds:.0f} | {c.device} |"
        )
    if not cards:
        lines.append("| (no trained models yet) | | | | | | | | | |")
    for c in cards:
        lines += ["", f"## {c.name}", "", f"- data: {c.data}", f"- made by: `{c.command}`",
                  f"- created: {c.created}, torch {c.torch_version}, seed {c.seed}"
                  + (", stopped early by --max-minutes" if c.stopped_early else ""),
                  f"- sha256: `{c.weights_sha256}`"]
        for k, v in sorted(c.extra.items()):
            if k == "grid":
                lines.append(f"- sample grid: ![{c.name} samples]({v})")
            elif k != "versions":
                lines.append(f"- {k}: {json.dumps(v, sort_keys=True) if isinstance(v, dict) else v}")
    lines += ["", "## Training the zoo", "", "On one GPU (about 6 minutes on an H100):", "",
              "```sh", GPU_COMMANDS, "```", "",
              "A CPU smoke run of the real architectures (a few minutes on 2 cores; the weights are useless):", "",
              "```sh", CPU_SMOKE_COMMAND, "```", ""]
    return "\n".join(lines)


def write_readme(folder: str | os.PathLike | None = None, out: str | os.PathLike | None = None) -> Path:
    """Render the README of <folder>'s cards atomically into `out` (a .md file, or a folder for its README.md),
    by default <folder>/README.md."""
    path = zoo_dir(folder) / "README.md" if out is None else Path(out)
    if out is not None and path.suffix.lower() != ".md":
        path = path / "README.md"
    atomic_write_text(path, render_readme(folder))
    return path
