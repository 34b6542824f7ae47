"""Inversion round-trip error of EDICT for a given model, dtype and number of steps (EDICT §3, exactness)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .chain import edict_invert, edict_sample
from .common import Denoiser, Step, check_steps


@dataclass(frozen=True)
class RoundTrip:
    """How far edict_invert(edict_sample(xT)) lands from xT."""

    num_steps: int
    dtype: str  # coupling arithmetic dtype
    model_dtype: str
    max_abs_error: float  # max |xT' - xT| over both chains
    rel_error: float  # ||xT' - xT|| / ||xT||


def roundtrip_error(
    model: Denoiser,
    shape: tuple[int, ...],
    steps: Sequence[Step],
    *,
    dtype: torch.dtype = torch.float64,
    model_dtype: torch.dtype | None = None,
    mix: float = 0.93,
    leapfrog: bool = True,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> RoundTrip:
    """Sample from seeded noise over `steps` (backend.steps(n)), invert, and report the error.

    Coupling arithmetic in `dtype`, network in `model_dtype`.
    """
    chain = check_steps(steps)
    g = torch.Generator(device="cpu").manual_seed(seed)
    xT = torch.randn(shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    kw = dict(mix=mix, leapfrog=leapfrog, model_dtype=model_dtype)
    x0, y0 = edict_sample(model, xT, xT.clone(), chain, grad="none", **kw)
    xr, yr = edict_invert(model, x0, y0, chain, **kw)
    err = torch.maximum((xr - xT).abs().max(), (yr - xT).abs().max()).item()
    rel = (torch.cat([xr - xT, yr - xT]).double().norm() / (2**0.5 * xT.double().norm())).item()
    md = model_dtype if model_dtype is not None else dtype
    return RoundTrip(len(chain), str(dtype).removeprefix("torch."), str(md).removeprefix("torch."), err, rel)
