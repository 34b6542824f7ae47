"""DOODL's hyperparameters (Algorithm 1 of the DOODL paper), one frozen dataclass with the source of each default."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from .selection import Select, check_select

import torch


@dataclass(frozen=True)
class DoodlConfig:
    """Knobs of the latent optimisation; defaults from the DOODL paper unless the comment says otherwise."""

    lr: float = 0.1  # lambda; §5.1 uses 0.1 for CLIP, §5.4 3, §5.3 1 (our zoo demo: see doodl.demo)
    grad_clip: float = 1e-3  # element-wise clip of g (§4, Alg. 1)
    momentum: float = 0.9  # eta (§4, eq. 8); Nesterov not used (paper: "not useful")
    perturb_std: float = 1e-2  # x_T += N(0, 1e-4 I) per update: the paper's covariance 1e-4 is std 1e-2; the
    #                            released code used std 1e-4 (pass perturb_std=1e-4 to reproduce it)
    mix: float = 0.93  # EDICT p (EDICT paper; DOODL §4)
    leapfrog: bool = True  # EDICT authors' alternation of which chain goes first
    grad_mode: Literal["reversible", "checkpoint", "naive"] = "reversible"  # reversible = constant memory in T
    renormalize: bool = True  # keep ||x_T|| at the initial draw's norm ("Gaussian shell", §4)
    tie: bool = True  # x_T = y_T during generation (the paper averages the pair after each update); editing
    #                   from an inverted pair unties them so the reconstruction stays exact
    optimizer: Literal["momentum", "adam"] = "momentum"  # "adam" is ours, beyond the paper
    adam_betas: tuple[float, float] = (0.9, 0.999)  # only for optimizer="adam"
    typical_clamp: float | None = None  # clamp x_T's block means to this many sigmas after each update (ours,
    #                                    doodl.optimizer.typical); None: off, as in the paper
    select: Select = "last"  # which iterate to return: "last" (Algorithm 1), "best" (lowest guidance loss, can
    #                          be the one that fools the guidance model) or a held-out scorer images -> (B,)
    target_loss: float | None = None  # stop once every image's loss is <= this (ours)
    nonfinite_lr_factor: float = 0.5  # on a non-finite loss/gradient: skip that image's update, scale its lr (ours)
    coupling_dtype: torch.dtype | None = None  # dtype of EDICT's coupling arithmetic; None: float32, or the
    #                                            network's dtype when that is float64

    def __post_init__(self) -> None:
        """Range-check every field; errors name the field."""
        for name in ("lr", "grad_clip", "nonfinite_lr_factor"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v > 0 or v != v:
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        if self.typical_clamp is not None and not self.typical_clamp > 0:
            raise ValueError(f"typical_clamp must be a positive number of sigmas or None, got {self.typical_clamp!r}")
        if not self.perturb_std >= 0:
            raise ValueError(f"perturb_std must be >= 0, got {self.perturb_std!r}")
        if not 0 < self.mix <= 1:
            raise ValueError(f"mix must lie in (0, 1], got {self.mix!r}")
        if self.grad_mode not in ("reversible", "checkpoint", "naive"):
            raise ValueError(f"grad_mode must be 'reversible', 'checkpoint' or 'naive', got {self.grad_mode!r}")
        check_select(self.select)
        if self.optimizer not in ("momentum", "adam"):
            raise ValueError(f"optimizer must be 'momentum' or 'adam', got {self.optimizer!r}")

    @classmethod
    def split(cls, options: dict) -> tuple["DoodlConfig", dict]:
        """Separate config fields from other keyword options (which go to the backend's conditioning)."""
        names = {f.name for f in fields(cls)}
        cfg = {k: v for k, v in options.items() if k in names}
        rest = {k: v for k, v in options.items() if k not in names}
        return cls(**cfg), rest
