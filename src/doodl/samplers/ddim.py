"""DDIM sampling and its (approximate) inversion (Song et al. 2021, eq. 12 with eta = 0)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .common import Callback, Denoiser, Step, call_model, check_finite_step, check_latent, make_steps


def ddim_step(model: Denoiser, x: Tensor, step: Step, model_dtype: torch.dtype | None = None) -> Tensor:
    """One deterministic DDIM step x_t -> x_prev = a x_t + b eps(x_t, t) (DDIM eq. 12, eta = 0)."""
    eps = call_model(model, x, step.t, model_dtype)
    x_prev = step.a * x + step.b * eps
    check_finite_step(step, x_prev)
    return x_prev


def ddim_inverse_step(model: Denoiser, x_prev: Tensor, step: Step, model_dtype: torch.dtype | None = None) -> Tensor:
    """Approximate inverse of ddim_step: eps is evaluated at x_prev instead of the unknown x_t (DDIM §4.3)."""
    eps = call_model(model, x_prev, step.t, model_dtype)
    x = (x_prev - step.b * eps) / step.a
    check_finite_step(step, x, inverse=True)
    return x


def ddim_sample(
    model: Denoiser,
    xT: Tensor,
    timesteps: Sequence[int] | Tensor,
    alphas_cumprod: Tensor,
    *,
    final_alpha_cumprod: float | None = 1.0,
    model_dtype: torch.dtype | None = None,
    callback: Callback | None = None,
) -> Tensor:
    """Run DDIM from xT over descending timesteps to x0."""
    check_latent("xT", xT)
    x = xT
    for step in make_steps(timesteps, alphas_cumprod, final_alpha_cumprod):
        x = ddim_step(model, x, step, model_dtype)
        if callback is not None:
            callback({"i": step.index, "t": step.t, "x": x})
    return x


def ddim_invert(
    model: Denoiser,
    x0: Tensor,
    timesteps: Sequence[int] | Tensor,
    alphas_cumprod: Tensor,
    *,
    final_alpha_cumprod: float | None = 1.0,
    model_dtype: torch.dtype | None = None,
) -> Tensor:
    """Approximately undo ddim_sample with the same arguments (not exact: that is what EDICT fixes)."""
    check_latent("x0", x0)
    x = x0
    for step in reversed(make_steps(timesteps, alphas_cumprod, final_alpha_cumprod)):
        x = ddim_inverse_step(model, x, step, model_dtype)
    return x
