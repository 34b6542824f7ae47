"""Results of DOODL and of the baselines, as dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..schedules.steps import Step


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
    latents: Tensor  # (B, *latent_shape): x_T that produced `images` (with latents_y: edict_sample's pair)
    loss: Tensor  # (B,) loss of `images`
    initial_images: Tensor  # (B, C, H, W): the images of the initial draw (what vanilla EDICT sampling gives)
    history: list[StepRecord] = field(default_factory=list)  # one per evaluation: [0] the initial draw, then one
    #                                                           after each update (opt_steps + 1 unless stopped early)
    seeds: list[int] = field(default_factory=list)
    seconds: float = 0.0
    best_step: Tensor | None = None  # (B,) the step each returned image comes from
    latents_y: Tensor | None = None  # (B, *latent_shape): y_T of the pair (equals `latents` when tied)
    steps: list[Step] = field(default_factory=list)  # the chain sampled from (x_T, y_T)
    coupling_dtype: torch.dtype | None = None  # dtype of the pair and of EDICT's coupling arithmetic
    pair_gap: Tensor | None = None  # (B,) mean |x0 - y0| of the initial draw's EDICT pair (stability check)

    @property
    def timesteps(self) -> list[int | float]:
        """The t of each step of the chain, noisiest first (for records)."""
        return [s.t for s in self.steps]

    @property
    def pair(self) -> tuple[Tensor, Tensor]:
        """(x_T, y_T): edict_sample over `steps` with the run's mix/leapfrog regenerates `images`' latents."""
        return self.latents, self.latents if self.latents_y is None else self.latents_y


@dataclass
class SampleResult:
    """Output of a baseline sampler (vanilla DDIM, one-step classifier guidance)."""

    images: Tensor  # (B, C, H, W) in [0, 1]
    latents: Tensor  # (B, *latent_shape): the initial x_T
    seeds: list[int] = field(default_factory=list)
    seconds: float = 0.0
    method: str = "vanilla"
