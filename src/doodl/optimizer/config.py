"""DOODL's hyperparameters (Algorithm 1 of the DOODL paper), one frozen dataclass with the source of each default."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

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
    range_pull: float = 0.0  # decode's gradient beyond [0, 1] (doodl.backends.ranges): 0 a plain clamp, as the
    #                          paper; the zoo demo uses 1 (a clamp's dead gradient let its images saturate, §5.4b)
    select: Select = "last"  # which iterate to return: "last" (Algorithm 1), "best" (lowest guidance loss, can
    #                          be the one that fools the guidance model) or a held-out scorer images -> (B,)
    target_loss: float | None = None  # stop once every image's loss is <= this (ours)
    nonfinite_lr_factor: float = 0.5  # on a non-finite loss/gradient: skip that image's update, scale its lr (ours)
    coupling_dtype: torch.dtype | str | None = None  # dtype of EDICT's coupling arithmetic (the network keeps
    #   its own); None: float64 where the device has it (CPU, CUDA), so sampling inverts exactly (EDICT §3),
    #   float32 on MPS (no float64). See coupling_dtype_for; "float32"/"float64" strings are accepted.

    def __post_init__(self) -> None:
        """Range-check every field; errors name the field."""
        object.__setattr__(self, "coupling_dtype", as_coupling_dtype(self.coupling_dtype))
        check_config(self)
        check_select(self.select)

    @classmethod
    def split(cls, options: dict) -> tuple["DoodlConfig", dict]:
        """Separate config fields from other keyword options (which go to the backend's conditioning)."""
        names = {f.name for f in fields(cls)}
        cfg = {k: v for k, v in options.items() if k in names}
        rest = {k: v for k, v in options.items() if k not in names}
        return cls(**cfg), rest


def _number(name: str, v: Any, low: float | None = None, *, open_low: bool = False, high: float | None = None,
            open_high: bool = False) -> None:
    """A finite real number (not bool) within the bounds, else a ValueError naming the field."""
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ok = ok and (low is None or (v > low if open_low else v >= low)) and (high is None or (v < high if open_high else v <= high))
    if not ok:
        lo = "" if low is None else f"{'(' if open_low else '['}{low:g}, "
        hi = "inf)" if high is None else f"{high:g}{')' if open_high else ']'}"
        where = f" in {lo}{hi}" if low is not None else ""
        raise ValueError(f"{name} must be a finite number{where}, got {v!r}")


def check_config(cfg: DoodlConfig) -> None:
    """Type- and range-check every DoodlConfig field (one check for the API and the CLI, which names its option)."""
    for name in ("lr", "grad_clip", "nonfinite_lr_factor"):
        v = getattr(cfg, name)
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive finite number, got {v!r}")
    _number("momentum", cfg.momentum, 0, high=1, open_high=True)
    if cfg.typical_clamp is not None:
        _number("typical_clamp", cfg.typical_clamp, 0, open_low=True)
    _number("perturb_std", cfg.perturb_std, 0)
    _number("range_pull", cfg.range_pull, 0)
    _number("mix", cfg.mix, 0, open_low=True, high=1)
    if cfg.target_loss is not None:
        _number("target_loss", cfg.target_loss)
    for name in ("leapfrog", "renormalize", "tie"):
        if not isinstance(getattr(cfg, name), bool):
            raise ValueError(f"{name} must be true or false, got {getattr(cfg, name)!r}")
    if cfg.grad_mode not in ("reversible", "checkpoint", "naive"):
        raise ValueError(f"grad_mode must be 'reversible', 'checkpoint' or 'naive', got {cfg.grad_mode!r}")
    if cfg.optimizer not in ("momentum", "adam"):
        raise ValueError(f"optimizer must be 'momentum' or 'adam', got {cfg.optimizer!r}")
    betas = cfg.adam_betas
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"adam_betas must be two numbers in [0, 1), got {betas!r}")
    for b in betas:
        _number("adam_betas", b, 0, high=1, open_high=True)


COUPLING_DTYPES = {"float32": torch.float32, "float64": torch.float64}  # float16 would make EDICT inexact


def as_coupling_dtype(value: torch.dtype | str | None) -> torch.dtype | None:
    """None, or float32 / float64 given as a torch dtype or its name; anything else is a ValueError."""
    if value is None or value == "auto":
        return None
    name = str(value).removeprefix("torch.")
    if name not in COUPLING_DTYPES:
        raise ValueError(f"coupling_dtype must be auto, float32 or float64, got {value!r}")
    return COUPLING_DTYPES[name]


def coupling_dtype_for(device: torch.device | str, requested: torch.dtype | str | None = None) -> torch.dtype:
    """The coupling dtype on `device`: the requested one, else float64 (exact), or float32 where there is no
    float64 (Apple MPS); asking for float64 on MPS is a ValueError."""
    dev = torch.device(device)
    dtype = as_coupling_dtype(requested)
    if dev.type == "mps":
        if dtype == torch.float64:
            raise ValueError("coupling_dtype float64 is not supported on MPS (no float64 there); use float32")
        return torch.float32
    return torch.float64 if dtype is None else dtype
