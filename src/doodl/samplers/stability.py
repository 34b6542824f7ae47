"""Is an EDICT chain stable for this model, mixing weight p and number of steps T?

EDICT (Wallace et al. 2023, eq. 5) keeps two chains x, y whose difference should stay small. Near pure noise
the mixing steps (5.3, 5.4) multiply the x - y gap by about p * a_t per chain, a_t = sqrt(alpha_bar_prev /
alpha_bar_t) the DDIM coefficient, so over the chain the squared gap grows by up to prod_t (p a_t)^2. On Stable
Diffusion's scaled-linear schedule (p = 0.93, T = 50) that product is small; on a linear-beta pixel DDPM at
T = 20 it is hundreds, and the chain drifts (the two outputs disagree and the image becomes noise).

chain_report measures it: the mean |x0 - y0| of sampled pairs and the round-trip error of inverting them.
pair_gap / gap_warning are the cheap check the optimizer runs on the pair it already computes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
from torch import Tensor

from ..conditioning import Conditioning
from ..schedules.steps import Step
from .ddim import ddim_sample
from .chain import edict_invert, edict_sample

GAP_WARN = 0.1  # mean |x0 - y0| (model space; pixels in [-1, 1]) above which the pair counts as diverged. Measured
#               on the zoo DDPM (BENCHMARKS.md §5): 0.03-0.09 where samples are clean, >= 0.3 where they degrade.
ROUNDTRIP_WARN = 1e-3  # max |x_T - invert(sample(x_T))| above which inversion is no longer exact in practice


@dataclass(frozen=True)
class ChainReport:
    """Stability of EDICT on one backend at (mix, steps): measured gaps and round trip, and the growth bound."""

    mix: float
    steps: int
    seeds: int  # number of sampled pairs
    gap_mean: float  # mean |x0 - y0| over pixels and seeds (model space)
    gap_max: float  # the worst seed's mean |x0 - y0|
    roundtrip_max: float  # max |x_T - invert(sample(x_T))| (exactness of the inversion, float64 coupling)
    ddim_diff: float  # mean |x0 - DDIM's x0| from the same x_T: how far the coupling moves the sample off DDIM's
    growth: float  # prod_t (p a_t)^2 over the chain's steps with a_t > 1/p (the gap's worst-case growth)
    seconds: float

    @property
    def stable(self) -> bool:
        """Both outputs agree (gap below GAP_WARN) and the round trip is exact (below ROUNDTRIP_WARN)."""
        return self.gap_mean < GAP_WARN and self.roundtrip_max < ROUNDTRIP_WARN

    def as_dict(self) -> dict[str, Any]:
        """Fields and the verdict, JSON-ready."""
        return {**asdict(self), "stable": self.stable}


def growth_factor(steps: Sequence[Step], mix: float) -> float:
    """prod (p a_t)^2 over the steps where p a_t > 1: how much the squared x - y gap can grow along the chain."""
    out = 1.0
    for s in steps:
        out *= max(1.0, (mix * s.a) ** 2)
    return out


def pair_gap(x0: Tensor, y0: Tensor) -> Tensor:
    """Per-sample mean |x0 - y0| of an EDICT output pair (B,)."""
    return (x0.detach() - y0.detach()).abs().flatten(1).mean(1)


def gap_warning(gap: Tensor | float, mix: float, steps: int, threshold: float = GAP_WARN) -> str | None:
    """A message naming the numbers and what to change when the pair has diverged (gap > threshold), else None."""
    g = float(gap.max()) if isinstance(gap, Tensor) else float(gap)
    if not g > threshold:
        return None
    return (f"EDICT chain diverged: mean |x0 - y0| = {g:.3g} > {threshold:g} at mix p = {mix:g}, T = {steps} steps; "
            f"the outputs are unreliable (noise). Use more steps or a smaller mix (on the zoo DDPM p = 0.8 holds "
            f"from T = 15; measure yours with doodl.samplers.stability.chain_report; BENCHMARKS.md §5)")


def chain_report(backend: Any, mix: float, steps: int, seeds: Sequence[int] | int = 4, **conditioning: Any) -> ChainReport:
    """Sample EDICT pairs from seeded noise on `backend` (no gradients) and measure the gap and the round trip.

    Args:
        backend: a doodl Backend (denoiser, steps, noise).
        mix: EDICT's p.
        steps: T.
        seeds: a count (seeds 0..n-1) or a list of seeds.
        **conditioning: passed to backend.denoiser (prompt, class_label, ...).
    """
    import time

    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    start = time.perf_counter()
    model = backend.denoiser(Conditioning.from_kwargs(**conditioning))
    chain = backend.steps(steps)
    xT = torch.cat([backend.noise(1, torch.Generator().manual_seed(s), torch.float64) for s in seeds])  # as optimize()
    x0, y0 = edict_sample(model, xT, xT.clone(), chain, mix, "none", model_dtype=backend.dtype)
    gap = pair_gap(x0, y0)
    xr, yr = edict_invert(model, x0, y0, chain, mix, model_dtype=backend.dtype)
    rt = max(float((xr - xT).abs().max()), float((yr - xT).abs().max()))
    rt = rt if math.isfinite(rt) else float("inf")
    with torch.no_grad():
        ref = ddim_sample(model, xT, chain, model_dtype=backend.dtype)
    ddim_diff = float((x0 - ref).abs().mean())
    return ChainReport(float(mix), int(steps), len(seeds), float(gap.mean()), float(gap.max()), rt, ddim_diff,
                       growth_factor(chain, mix), time.perf_counter() - start)
