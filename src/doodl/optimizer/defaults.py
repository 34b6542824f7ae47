"""DOODL's defaults per backend family: EDICT's mix p and steps T (chosen where the chain is stable, measured by
doodl.samplers.stability.chain_report) and the optimizer's lr, clip, perturbation and number of updates.

The paper's values (Wallace et al. 2023, §4-5) are for Stable Diffusion latents on the scaled-linear schedule.
A pixel DDPM on DDPM's linear betas needs its own: EDICT at p = 0.93 diverges there below T ~ 50, and a clip of
1e-3 per element barely moves a 32x32 image in 20 updates. Measurements: BENCHMARKS.md §5 ("Per-family
defaults"). optimize() uses these for every value the caller does not give.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

SCALED_LINEAR = "vp-scaled-linear"  # Stable Diffusion 1.x/2.x latents (betas 0.00085..0.012, scaled)
LINEAR = "vp-linear"  # DDPM's linear betas 1e-4..0.02 (the zoo's pixel models)
FLOW = "flow"  # rectified-flow models (SD3, Flux-dev): Euler steps, a = 1
FLOW_FEW_STEP = "flow-few-step"  # step-distilled flow models (Flux-schnell): the same chain at 4 steps


@dataclass(frozen=True)
class FamilyDefaults:
    """Defaults of one backend family; `source` says where they come from."""

    mix: float  # EDICT p
    steps: int  # T, the sampling steps
    lr: float  # lambda of Algorithm 1
    grad_clip: float  # element-wise clip of -lambda * grad
    perturb_std: float  # std of the per-update kick of x_T
    opt_steps: int  # m, the number of updates
    source: str = ""
    range_pull: float = 0.0  # decode's restoring gradient beyond [0, 1] (doodl.backends.ranges); 0: a plain clamp.
    #   0 for every family: its useful size depends on the loss's gradient scale (BENCHMARKS.md §5.4b), so the
    #   classifier demo sets its own (doodl.demo.VocabConfig.range_pull) and other callers opt in

    def config_fields(self) -> dict[str, Any]:
        """The DoodlConfig fields these defaults set."""
        return {"mix": self.mix, "lr": self.lr, "grad_clip": self.grad_clip, "perturb_std": self.perturb_std,
                "range_pull": self.range_pull}


FAMILY_DEFAULTS: dict[str, FamilyDefaults] = {
    SCALED_LINEAR: FamilyDefaults(mix=0.93, steps=50, lr=0.1, grad_clip=1e-3, perturb_std=1e-2, opt_steps=20,
                                  source="the DOODL paper (§4, §5.1) on SD v1.4; chain growth bound ~6.7 at T = 20"),
    LINEAR: FamilyDefaults(mix=0.8, steps=20, lr=10.0, grad_clip=1e-2, perturb_std=1e-3, opt_steps=20,
                           source="measured on the zoo DDPM, BENCHMARKS.md §5 (chain table; tuning on seeds 100+)"),
    FLOW: FamilyDefaults(mix=0.93, steps=28, lr=0.1, grad_clip=1e-3, perturb_std=1e-2, opt_steps=20,
                         source="p, T: chain table on the tiny SD3 / Flux-dev pipelines (BENCHMARKS.md §7b: gap ~1e-3, "
                                "round trip ~1e-13 at p = 0.93, T = 28; on a = 1 steps mixing shrinks the gap); "
                                "T = 28 as SD3's and Flux-dev's pipelines; lr/clip/noise: the paper's, not tuned here"),
    FLOW_FEW_STEP: FamilyDefaults(mix=0.93, steps=4, lr=0.1, grad_clip=1e-3, perturb_std=1e-2, opt_steps=20,
                                  source="Flux-schnell's 4 steps; chain table on the tiny schnell pipeline (§7b); "
                                         "lr/clip/noise: the paper's, not tuned here"),
}
DEFAULT_FAMILY = SCALED_LINEAR  # for a backend of unknown family: the paper's values


def register_family(name: str, defaults: FamilyDefaults, *, overwrite: bool = False) -> None:
    """Add (or with overwrite=True replace) the defaults of a backend family."""
    if not isinstance(defaults, FamilyDefaults):
        raise ValueError(f"defaults must be a FamilyDefaults, got {type(defaults).__name__}")
    if name in FAMILY_DEFAULTS and not overwrite:
        raise ValueError(f"family {name!r} already has defaults; pass overwrite=True to replace them")
    FAMILY_DEFAULTS[name] = defaults


def family_of(backend: Any) -> str:
    """The backend's family: its `family` attribute, else read from its schedule (alpha_bar at the last step:
    ~4e-5 for DDPM's linear betas, ~5e-3 for SD's scaled-linear ones)."""
    fam = getattr(backend, "family", None)
    if isinstance(fam, str):
        return fam
    schedule = getattr(backend, "schedule", None)
    if getattr(schedule, "prediction", None) == "velocity":
        return FLOW
    ac = getattr(schedule, "alphas_cumprod", None)
    if isinstance(ac, torch.Tensor) and ac.ndim == 1 and ac.numel() > 1:
        return LINEAR if float(ac[-1]) < 1e-3 else SCALED_LINEAR
    return DEFAULT_FAMILY


def defaults_for(backend: Any) -> FamilyDefaults:
    """The defaults of the backend's family (the paper's for an unregistered one)."""
    return FAMILY_DEFAULTS.get(family_of(backend), FAMILY_DEFAULTS[DEFAULT_FAMILY])


def with_defaults(defaults: FamilyDefaults, **changes: Any) -> FamilyDefaults:
    """A copy with some fields changed (None values are ignored)."""
    return replace(defaults, **{k: v for k, v in changes.items() if v is not None})
