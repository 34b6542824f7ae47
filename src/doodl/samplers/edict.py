"""EDICT: exactly invertible coupled DDIM (Wallace et al. 2023; DOODL paper eq. 5 and 6).

Leapfrog (``leapfrog=True``, the default): at odd steps the y chain is *updated* first (eq. 5.1/5.2 with the
roles of x and y exchanged), while the *mixing* layer (eq. 5.3/5.4) always mixes x first:
x' = p x_inter + (1 - p) y_inter, then y' = p y_inter + (1 - p) x'. This is how the EDICT authors' code
(salesforce/EDICT, ``edict_functions.py``), the DOODL authors' code (salesforce/DOODL, ``doodl.py``) and the
diffusers community EDICT pipeline compute it; tests/samplers/test_edict_reference.py pins it against a
hand-written loop. Leapfrog parity is read from ``Step.index`` (0 = the chain's first step).
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import Tensor

from .common import Callback, Denoiser, Step, call_model, check_finite_step, check_mix, check_pair, make_steps

GradMode = Literal["reversible", "checkpoint", "naive", "none"]


def update_pair(
    model: Denoiser, u: Tensor, v: Tensor, step: Step, model_dtype: torch.dtype | None
) -> tuple[Tensor, Tensor]:
    """Eq. 5.1 and 5.2 with u the chain updated first: u_inter = a u + b eps(v), v_inter = a v + b eps(u_inter)."""
    u_inter = step.a * u + step.b * call_model(model, v, step.t, model_dtype)  # (5.1)
    v_inter = step.a * v + step.b * call_model(model, u_inter, step.t, model_dtype)  # (5.2)
    return u_inter, v_inter


def undo_update_pair(
    model: Denoiser, u_inter: Tensor, v_inter: Tensor, step: Step, model_dtype: torch.dtype | None
) -> tuple[Tensor, Tensor]:
    """Eq. 6.3 and 6.4, the inverse of update_pair: v = (v_inter - b eps(u_inter)) / a, u = (u_inter - b eps(v)) / a."""
    v = (v_inter - step.b * call_model(model, u_inter, step.t, model_dtype)) / step.a  # (6.3)
    u = (u_inter - step.b * call_model(model, v, step.t, model_dtype)) / step.a  # (6.4)
    return u, v


def mix_pair(x_inter: Tensor, y_inter: Tensor, p: float) -> tuple[Tensor, Tensor]:
    """Eq. 5.3 and 5.4, x always mixed first: x' = p x_inter + (1-p) y_inter, y' = p y_inter + (1-p) x'."""
    x_new = p * x_inter + (1 - p) * y_inter  # (5.3)
    y_new = p * y_inter + (1 - p) * x_new  # (5.4)
    return x_new, y_new


def unmix_pair(x_new: Tensor, y_new: Tensor, p: float) -> tuple[Tensor, Tensor]:
    """Eq. 6.1 and 6.2, the inverse of mix_pair: y_inter = (y' - (1-p) x') / p, x_inter = (x' - (1-p) y_inter) / p."""
    y_inter = (y_new - (1 - p) * x_new) / p  # (6.1)
    x_inter = (x_new - (1 - p) * y_inter) / p  # (6.2)
    return x_inter, y_inter


def edict_step(
    model: Denoiser, x: Tensor, y: Tensor, step: Step, mix: float, model_dtype: torch.dtype | None = None,
    *, y_first: bool = False,
) -> tuple[Tensor, Tensor]:
    """One EDICT denoising step (x_t, y_t) -> (x_{t-1}, y_{t-1}), DOODL eq. 5; y_first: leapfrog's odd steps."""
    if y_first:
        y_inter, x_inter = update_pair(model, y, x, step, model_dtype)
    else:
        x_inter, y_inter = update_pair(model, x, y, step, model_dtype)
    return mix_pair(x_inter, y_inter, mix)


def edict_inverse_step(
    model: Denoiser, x_new: Tensor, y_new: Tensor, step: Step, mix: float, model_dtype: torch.dtype | None = None,
    *, y_first: bool = False,
) -> tuple[Tensor, Tensor]:
    """Exact inverse of edict_step: (x_{t-1}, y_{t-1}) -> (x_t, y_t), DOODL eq. 6."""
    x_inter, y_inter = unmix_pair(x_new, y_new, mix)
    if y_first:
        y, x = undo_update_pair(model, y_inter, x_inter, step, model_dtype)
    else:
        x, y = undo_update_pair(model, x_inter, y_inter, step, model_dtype)
    return x, y


def y_first(step: Step, leapfrog: bool) -> bool:
    """Leapfrog: at odd steps the y chain is updated first (the mixing order never changes)."""
    return leapfrog and step.index % 2 == 1


def forward_step(
    model: Denoiser, x: Tensor, y: Tensor, step: Step, mix: float, leapfrog: bool, model_dtype: torch.dtype | None
) -> tuple[Tensor, Tensor]:
    """edict_step with leapfrog's update order; raises NonFiniteError naming the step if the pair goes NaN/inf."""
    x, y = edict_step(model, x, y, step, mix, model_dtype, y_first=y_first(step, leapfrog))
    check_finite_step(step, x, y)
    return x, y


def inverse_step(
    model: Denoiser, x: Tensor, y: Tensor, step: Step, mix: float, leapfrog: bool, model_dtype: torch.dtype | None
) -> tuple[Tensor, Tensor]:
    """edict_inverse_step with leapfrog's update order; raises NonFiniteError naming the step on NaN/inf."""
    x, y = edict_inverse_step(model, x, y, step, mix, model_dtype, y_first=y_first(step, leapfrog))
    check_finite_step(step, x, y, inverse=True)
    return x, y


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
        callback: called after every step with {"i", "t", "x", "y"}, in every mode; in "reversible" mode the
            forward pass runs without a graph, so x and y carry none (use "checkpoint" or "naive" to backpropagate
            through intermediate latents).
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
        return checkpointed_chain(model, xT, yT, steps, mix, leapfrog, model_dtype, callback)
    if grad == "reversible":
        return reversible_chain(model, xT, yT, steps, mix, leapfrog, model_dtype, tuple(params), callback)
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
