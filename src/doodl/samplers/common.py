"""Shared pieces of the samplers: the denoiser protocol, DDIM coefficients and input checks."""

from __future__ import annotations

import math
from typing import Callable, Protocol, Sequence

import torch
from torch import Tensor

from ..schedules.steps import Step
from ..schedules.vp import ddim_coefficients


class Denoiser(Protocol):
    """The one protocol: eps = model(x, t), with t a Python int or a 0-dim integer tensor."""

    def __call__(self, x: Tensor, t: int | Tensor) -> Tensor: ...


Callback = Callable[[dict], None]


def check_timesteps(timesteps: Sequence[int] | Tensor, alphas_cumprod: Tensor) -> list[int]:
    """Validate a strictly descending sequence of integer timesteps inside the schedule; return it as ints."""
    if not isinstance(alphas_cumprod, Tensor) or alphas_cumprod.ndim != 1 or alphas_cumprod.numel() == 0:
        raise ValueError("alphas_cumprod must be a non-empty 1-D tensor indexed by timestep")
    if isinstance(timesteps, Tensor):
        if timesteps.is_floating_point() or timesteps.ndim != 1:
            raise ValueError("timesteps must be a 1-D sequence of integers")
        ts = [int(t) for t in timesteps.tolist()]
    else:
        ts = list(timesteps)
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in ts):
            raise ValueError(f"timesteps must be integers, got {ts[:5]}...")
    if not ts:
        raise ValueError("timesteps must not be empty")
    n = alphas_cumprod.numel()
    if any(t < 0 or t >= n for t in ts):
        raise ValueError(f"timesteps must lie in [0, {n - 1}] (the length of alphas_cumprod), got min {min(ts)}, max {max(ts)}")
    if any(b >= a for a, b in zip(ts, ts[1:])):
        raise ValueError("timesteps must be strictly descending (noisiest first)")
    return ts


def make_steps(
    timesteps: Sequence[int] | Tensor, alphas_cumprod: Tensor, final_alpha_cumprod: float | None = 1.0
) -> list[Step]:
    """The chain's steps: each goes from timesteps[i] to timesteps[i+1], the last to final_alpha_cumprod.

    final_alpha_cumprod=1.0 ends on the clean image (DDIM's alpha_0 = 1; diffusers' set_alpha_to_one=True);
    None uses alphas_cumprod[0], as Stable Diffusion's scheduler config does (set_alpha_to_one=False).
    """
    ts = check_timesteps(timesteps, alphas_cumprod)
    ac = alphas_cumprod.detach().to("cpu", torch.float64)
    final = float(ac[0]) if final_alpha_cumprod is None else float(final_alpha_cumprod)
    if not 0.0 < final <= 1.0:
        raise ValueError(f"final_alpha_cumprod must lie in (0, 1], got {final}")
    steps = []
    for i, t in enumerate(ts):
        alpha_prev = float(ac[ts[i + 1]]) if i + 1 < len(ts) else final
        a, b = ddim_coefficients(float(ac[t]), alpha_prev)
        steps.append(Step(index=i, t=t, a=a, b=b))
    return steps


def check_latent(name: str, x: Tensor) -> None:
    """Raise a ValueError naming `name` unless x is a finite floating-point tensor."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {type(x).__name__}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")


def check_pair(x: Tensor, y: Tensor, xname: str = "x", yname: str = "y") -> None:
    """Validate an EDICT latent pair: same shape, dtype and device, finite; nothing is broadcast."""
    check_latent(xname, x)
    check_latent(yname, y)
    if x.shape != y.shape:
        raise ValueError(f"{xname} and {yname} must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.dtype != y.dtype or x.device != y.device:
        raise ValueError(f"{xname} and {yname} must share dtype and device, got {x.dtype}/{x.device} and {y.dtype}/{y.device}")


def check_mix(mix: float) -> float:
    """EDICT's mixing weight p must lie in (0, 1] (p = 0 would make eq. 6 divide by zero)."""
    if not isinstance(mix, (int, float)) or isinstance(mix, bool) or not 0.0 < float(mix) <= 1.0:
        raise ValueError(f"mix must be a number in (0, 1], got {mix!r}")
    return float(mix)


def call_model(model: Denoiser, x: Tensor, t: int, model_dtype: torch.dtype | None) -> Tensor:
    """eps = model(x, t), run in model_dtype when given, returned in x's dtype (coupling arithmetic stays in x's)."""
    inp = x if model_dtype is None else x.to(model_dtype)
    eps = model(inp, t)
    if eps.shape != x.shape:
        raise ValueError(f"model returned shape {tuple(eps.shape)} for input {tuple(x.shape)}; eps must match x")
    return eps.to(x.dtype)


class NonFiniteError(FloatingPointError):
    """A sampler step produced NaN or inf (usually the network's output: float16 overflow, a broken model)."""


def check_finite_step(step: Step, *tensors: Tensor, inverse: bool = False) -> None:
    """Raise NonFiniteError naming the step (index and t) unless every tensor is finite; one check per step."""
    ok = torch.stack([torch.isfinite(x).all() for x in tensors]).all()
    if not bool(ok):
        what = "inverse step" if inverse else "step"
        raise NonFiniteError(
            f"sampler {what} {step.index} (t={step.t}) produced non-finite values (NaN or inf); the model's output "
            "was not finite there (e.g. float16 overflow: run the network in float32)")
