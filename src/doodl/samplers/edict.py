"""EDICT: exactly invertible coupled DDIM (Wallace et al. 2023; DOODL paper eq. 5 and 6).

Leapfrog: the EDICT authors' code and the diffusers community pipeline swap the roles of the two chains at
every other step, so neither chain is always the one updated first. We follow them (``leapfrog=True`` is the
default): it keeps x and y symmetric, which matters because DOODL averages them after each update.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import Tensor

from .common import Callback, Denoiser, Step, call_model, check_mix, check_pair, make_steps

GradMode = Literal["reversible", "checkpoint", "naive", "none"]


def edict_step(
    model: Denoiser, x: Tensor, y: Tensor, step: Step, mix: float, model_dtype: torch.dtype | None = None
) -> tuple[Tensor, Tensor]:
    """One EDICT denoising step (x_t, y_t) -> (x_{t-1}, y_{t-1}), DOODL eq. 5."""
    a, b, p = step.a, step.b, mix
    x_inter = a * x + b * call_model(model, y, step.t, model_dtype)  # (5.1)
    y_inter = a * y + b * call_model(model, x_inter, step.t, model_dtype)  # (5.2)
    x_new = p * x_inter + (1 - p) * y_inter  # (5.3)
    y_new = p * y_inter + (1 - p) * x_new  # (5.4)
    return x_new, y_new


def edict_inverse_step(
    model: Denoiser, x_new: Tensor, y_new: Tensor, step: Step, mix: float, model_dtype: torch.dtype | None = None
) -> tuple[Tensor, Tensor]:
    """Exact inverse of edict_step: (x_{t-1}, y_{t-1}) -> (x_t, y_t), DOODL eq. 6."""
    a, b, p = step.a, step.b, mix
    y_inter = (y_new - (1 - p) * x_new) / p  # (6.1)
    x_inter = (x_new - (1 - p) * y_inter) / p  # (6.2)
    y = (y_inter - b * call_model(model, x_inter, step.t, model_dtype)) / a  # (6.3)
    x = (x_inter - b * call_model(model, y, step.t, model_dtype)) / a  # (6.4)
    return x, y


def swapped(step: Step, leapfrog: bool) -> bool:
    """Leapfrog: at odd steps the y chain is updated first (the pair enters the step as (y, x))."""
    return leapfrog and step.index % 2 == 1


def forward_step(
    model: Denoiser, x: Tensor, y: Tensor, step: Step, mix: float, leapfrog: bool, model_dtype: torch.dtype | None
) -> tuple[Tensor, Tensor]:
    """edict_step with the leapfrog role swap applied."""
    if swapped(step, leapfrog):
        y, x = edict_step(model, y, x, step, mix, model_dtype)
        return x, y
    return edict_step(model, x, y, step, mix, model_dtype)


def inverse_step(
    model: Denoiser, x: Tensor, y: Tensor, step: Step, mix: float, leapfrog: bool, model_dtype: torch.dtype | None
) -> tuple[Tensor, Tensor]:
    """edict_inverse_step with the leapfrog role swap applied."""
    if swapped(step, leapfrog):
        y, x = edict_inverse_step(model, y, x, step, mix, model_dtype)
        return x, y
    return edict_inverse_step(model, x, y, step, mix, model_dtype)


def run_chain(
    model: Denoiser,
    x: Tensor,
    y: Tensor,
    steps: Sequence[Step],
    mix: float,
    leapfrog: bool,
    model_dtype: torch.dtype | None,
    callback: Callback | None = None,
) -> tuple[Tensor, Tensor]:
    """Apply forward_step over all steps (grad follows the caller's autograd mode)."""
    for step in steps:
        x, y = forward_step(model, x, y, step, mix, leapfrog, model_dtype)
        if callback is not None:
            callback({"i": step.index, "t": step.t, "x": x, "y": y})
    return x, y


def edict_sample(
    model: Denoiser,
    xT: Tensor,
    yT: Tensor,
    timesteps: Sequence[int] | Tensor,
    alphas_cumprod: Tensor,
    mix: float = 0.93,
    grad: GradMode = "reversible",
    *,
    leapfrog: bool = True,
    final_alpha_cumprod: float | None = 1.0,
    model_dtype: torch.dtype | None = None,
    params: Sequence[Tensor] = (),
    callback: Callback | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample (x0, y0) from (xT, yT) with EDICT; differentiable by the chosen gradient mode.

    Args:
        model: eps = model(x, t).
        xT, yT: initial latent pair, same shape (B, C, H, W); their dtype is the coupling arithmetic's dtype.
        timesteps: strictly descending ints (noisiest first), each a valid index of alphas_cumprod.
        alphas_cumprod: 1-D tensor of alpha_bar indexed by t.
        mix: EDICT's p in (0, 1]; 0.93 as in the EDICT and DOODL papers.
        grad: "reversible" (memory constant in T: the backward pass rebuilds each step's input with eq. 6),
            "checkpoint" (keeps each step's input), "naive" (plain autograd), "none" (no graph at all).
        leapfrog: alternate which chain is updated first (see the module docstring).
        final_alpha_cumprod: alpha_bar after the last step (1.0 = clean image; None = alphas_cumprod[0]).
        model_dtype: dtype the network runs in when it differs from the latents' (e.g. float64 coupling,
            float32 network).
        params: tensors the model closes over that should receive gradients in "reversible" mode (e.g. prompt
            embeddings). "checkpoint" and "naive" find them on their own through autograd.
        callback: called after every step with {"i", "t", "x", "y"} ("naive" and "none" modes only).
    """
    check_pair(xT, yT, "xT", "yT")
    mix = check_mix(mix)
    steps = make_steps(timesteps, alphas_cumprod, final_alpha_cumprod)
    if grad == "none":
        with torch.no_grad():
            return run_chain(model, xT, yT, steps, mix, leapfrog, model_dtype, callback)
    if grad == "naive":
        return run_chain(model, xT, yT, steps, mix, leapfrog, model_dtype, callback)
    from .reversible import checkpointed_chain, reversible_chain

    if grad == "checkpoint":
        return checkpointed_chain(model, xT, yT, steps, mix, leapfrog, model_dtype)
    if grad == "reversible":
        return reversible_chain(model, xT, yT, steps, mix, leapfrog, model_dtype, tuple(params))
    raise ValueError(f"grad must be one of 'reversible', 'checkpoint', 'naive', 'none', got {grad!r}")


def edict_invert(
    model: Denoiser,
    x0: Tensor,
    y0: Tensor,
    timesteps: Sequence[int] | Tensor,
    alphas_cumprod: Tensor,
    mix: float = 0.93,
    *,
    leapfrog: bool = True,
    final_alpha_cumprod: float | None = 1.0,
    model_dtype: torch.dtype | None = None,
    callback: Callback | None = None,
) -> tuple[Tensor, Tensor]:
    """Exactly undo edict_sample called with the same arguments: (x0, y0) -> (xT, yT) by eq. 6."""
    check_pair(x0, y0, "x0", "y0")
    mix = check_mix(mix)
    x, y = x0, y0
    with torch.no_grad():
        for step in reversed(make_steps(timesteps, alphas_cumprod, final_alpha_cumprod)):
            x, y = inverse_step(model, x, y, step, mix, leapfrog, model_dtype)
            if callback is not None:
                callback({"i": step.index, "t": step.t, "x": x, "y": y})
    return x, y
