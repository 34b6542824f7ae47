"""What a run produced: per-seed outputs and the run record, with JSON-safe to_dict() for run.json and --json."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .spec import RunSpec


def json_float(x: float | Tensor | None) -> float | None:
    """A finite float, or None for NaN/inf/None (strict JSON has no NaN)."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


@dataclass
class SeedOutput:
    """One seed's result and files."""

    seed: int
    loss: float | None  # loss of the returned image (None if not finite)
    image: Path  # seed-<s>.png
    losses: list[float | None] = field(default_factory=list)  # DOODL: loss per evaluation, [0] = initial draw
    best_step: int | None = None  # DOODL: the step the returned image comes from
    iterate_steps: list[int] = field(default_factory=list)  # DOODL: steps shown in the strip and GIF
    iterates: Path | None = None  # iterates-<s>.png (DOODL)
    gif: Path | None = None  # iterates-<s>.gif (DOODL)
    latents: Path | None = None  # latents-<s>.pt (DOODL): the (x_T, y_T) pair that regenerates `image`

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (paths as strings)."""
        return {
            "seed": self.seed, "loss": self.loss, "best_step": self.best_step, "losses": self.losses,
            "iterate_steps": self.iterate_steps, "image": str(self.image),
            "iterates": str(self.iterates) if self.iterates else None, "gif": str(self.gif) if self.gif else None,
            "latents": str(self.latents) if self.latents else None,
        }


@dataclass
class RunRecord:
    """Output of doodl.runs.execute: the images in seed order, per-seed results, settings, timing, versions."""

    spec: RunSpec
    images: Tensor  # (S, C, H, W) in [0, 1], CPU, one per seed
    outputs: list[SeedOutput]
    settings: dict[str, Any]  # resolved defaults, device, dtype and the guides actually used
    versions: dict[str, str]
    seconds: float  # wall time from the start until the last seed image was written
    out_dir: Path
    loss_curve: Path | None = None  # loss.png (DOODL)
    run_json: Path | None = None
    heldout: dict[str, Any] = field(default_factory=dict)  # rewards not optimised, before/after (runs.heldout)

    @property
    def losses(self) -> Tensor:
        """Final loss per seed (S,), float64; NaN where it was not finite."""
        return torch.tensor([float("nan") if o.loss is None else o.loss for o in self.outputs], dtype=torch.float64)

    @property
    def paths(self) -> list[Path]:
        """Every file the run wrote."""
        files = [p for o in self.outputs for p in (o.image, o.iterates, o.gif, o.latents) if p is not None]
        return files + [p for p in (self.loss_curve, self.run_json) if p is not None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record (the content of run.json)."""
        return {
            "spec": self.spec.to_dict(), "settings": self.settings, "versions": self.versions,
            "seconds": round(self.seconds, 3), "out_dir": str(self.out_dir),
            "seeds": [o.to_dict() for o in self.outputs],
            "loss_curve": str(self.loss_curve) if self.loss_curve else None,
            "run_json": str(self.run_json) if self.run_json else None, "heldout": self.heldout,
        }
