"""Results of DOODL and of the baselines, as dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class StepRecord:
    """One evaluation of the chain: history[0] is the initial draw, history[i] the iterate after i updates."""

    step: int
    loss: Tensor  # (B,) per-image loss of this iterate (CPU, float64)
    skipped: Tensor  # (B,) bool: update skipped for a non-finite loss or gradient
    lr: Tensor  # (B,) learning rate in force for each image
    seconds: float  # wall time since the start of the optimisation

    @property
    def mean_loss(self) -> float:
        """Mean loss over the batch (finite entries)."""
        finite = self.loss[self.loss.isfinite()]
        return float(finite.mean()) if finite.numel() else float("nan")


@dataclass
class DoodlResult:
    """Output of doodl.optimize: the best iterate's images and latents, and the per-step history."""

    images: Tensor  # (B, C, H, W) in [0, 1]: each image's iterate chosen by DoodlConfig.select (default: the last)
    latents: Tensor  # (B, *latent_shape): x_T that produced `images`
    loss: Tensor  # (B,) loss of `images`
    initial_images: Tensor  # (B, C, H, W): the images of the initial draw (what vanilla EDICT sampling gives)
    history: list[StepRecord] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    seconds: float = 0.0
    best_step: Tensor | None = None  # (B,) the step each returned image comes from
    pair_gap: Tensor | None = None  # (B,) mean |x0 - y0| of the initial draw's EDICT pair (stability check)


@dataclass
class SampleResult:
    """Output of a baseline sampler (vanilla DDIM, one-step classifier guidance)."""

    images: Tensor  # (B, C, H, W) in [0, 1]
    latents: Tensor  # (B, *latent_shape): the initial x_T
    seeds: list[int] = field(default_factory=list)
    seconds: float = 0.0
    method: str = "vanilla"
