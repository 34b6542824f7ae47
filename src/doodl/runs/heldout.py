"""Held-out reward report: the rewards a run did NOT optimise, scored before and after, so reward hacking shows.

DOODL's images move toward whatever the guide rewards; a second, independent judge (the zoo's eval classifier
for a zoo run guided by its guide classifier; CLIP, aesthetic, PickScore, HPS, ImageReward for Stable Diffusion)
tells a real improvement from an adversarial one. Only networks already on this machine are used: nothing is
downloaded for the report.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import Tensor

from .defaults import ZOO_CLASSIFIERS
from .record import json_float

if TYPE_CHECKING:
    from ..specs import GuideSpec
    from .models import ModelCache

log = logging.getLogger(__name__)

ZOO_JUDGE = {"fashion-guide": "fashion-eval", "fashion-eval": "fashion-guide"}  # the other zoo classifier
SD_REWARDS = ("clip-text", "aesthetic", "pickscore", "hps", "image-reward")


@dataclass
class HeldOut:
    """Held-out judges of one run: name -> scorer, and why the others were left out."""

    judges: dict[str, Callable[[Tensor], Tensor]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    per_seed: dict[int, dict[str, dict[str, float | None]]] = field(default_factory=dict)

    def score(self, seeds: tuple[int, ...], before: Tensor | None, after: Tensor) -> None:
        """Record each judge's value (a reward's score, else its loss) on the batch before and after."""
        for name, judge in self.judges.items():
            value = getattr(judge, "score", None) or judge
            with torch.no_grad():
                a = value(after)
                b = value(before) if before is not None else None
            for i, s in enumerate(seeds):
                self.per_seed.setdefault(s, {})[name] = {
                    "before": json_float(b[i]) if b is not None else None, "after": json_float(a[i])}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe report for run.json: judges, higher-is-better flags, per-seed before/after, unavailable."""
        return {"judges": {n: ("reward, higher is better" if hasattr(j, "score") else "loss, lower is better")
                           for n, j in self.judges.items()},
                "seeds": {str(s): v for s, v in self.per_seed.items()}, "unavailable": self.unavailable}


def _hub_cached(source: str) -> bool:
    """A local folder, or a hub id whose config.json is already in the local cache (no download)."""
    if Path(source).expanduser().is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(source, "config.json"), str)
    except Exception:  # noqa: BLE001 -- malformed ids and cache errors alike mean "not here"
        return False


def _sd_candidates() -> dict[str, tuple[dict[str, str], str | None]]:
    """Reward -> (guide options, the local file or id that must be present; None: always try)."""
    from ..scorers.loading import CLIP_ALIASES
    from ..scorers.registry import DEFAULT_AESTHETIC_CLIP, DEFAULT_CLIP_TEXT
    from ..scorers.rewards.loaders import HPS_ENV, IMAGE_REWARD_ENV, PICKSCORE_MODEL

    return {
        "clip-text": ({}, CLIP_ALIASES.get(DEFAULT_CLIP_TEXT, DEFAULT_CLIP_TEXT)),
        "aesthetic": ({}, CLIP_ALIASES.get(DEFAULT_AESTHETIC_CLIP, DEFAULT_AESTHETIC_CLIP)),
        "pickscore": ({}, PICKSCORE_MODEL),
        "hps": ({}, os.environ.get(HPS_ENV) or ""),
        "image-reward": ({}, os.environ.get(IMAGE_REWARD_ENV) or ""),
    }


def build_heldout(guides: tuple["GuideSpec", ...], context: Any, cache: "ModelCache", pixel: bool) -> HeldOut:
    """The judges for a run optimising `guides`: available rewards it does not optimise, whole images (no crops)."""
    from ..specs import GuideSpec

    report = HeldOut()
    used = {g.name.lower() for g in guides}
    if pixel:
        for g in guides:
            clf = str(g.options.get("classifier", ""))
            if g.name.lower() == "classifier" and clf in ZOO_CLASSIFIERS:
                judge = ZOO_JUDGE[clf]
                spec = GuideSpec("classifier", 1.0, {"classifier": judge, "class": str(g.options.get("class"))})
                label = f"{judge} (class {g.options.get('class')})"
                try:
                    report.judges[label] = cache.loss((spec,), context)
                except (ValueError, FileNotFoundError, OSError) as e:  # e.g. a zoo folder without that model
                    report.unavailable[label] = str(e).splitlines()[0][:200]
        if not report.judges and not report.unavailable:
            report.unavailable["zoo classifiers"] = "the run optimises no zoo classifier class to judge"
        return report
    if not context.prompt:
        report.unavailable["all"] = "the run has no prompt to judge against"
        return report
    for name, (opts, needed) in _sd_candidates().items():
        if name in used:
            continue
        path_like = name in ("hps", "image-reward")
        if not needed or (path_like and not Path(needed).exists()) or (not path_like and not _hub_cached(needed)):
            report.unavailable[name] = f"not on this machine ({needed or 'no path set'})"
            continue
        try:
            term = cache.loss((GuideSpec(name, 1.0, {**opts, "crops": "0"}),), context).terms[0][0]
            report.judges[name] = getattr(term, "fn", term)  # unwrap UserScorer: rewards report .score
        except (ValueError, FileNotFoundError, OSError) as e:
            report.unavailable[name] = str(e).splitlines()[0][:200]
    return report
