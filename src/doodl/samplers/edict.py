"""EDICT's steps: exactly invertible coupled DDIM (Wallace et al. 2023; DOODL paper eq. 5 and 6).

The chain with its gradient modes (edict_sample, edict_invert) is in chain.py; the steps here know nothing of
the schedule's family, so the same eq. 5 / 6 run on VP (DDIM) and rectified-flow (Euler) steps.

Leapfrog: the EDICT authors' code and the diffusers community pipeline swap the roles of the two chains at
every other step, so neither chain is always the one updated first. We follow them (``leapfrog=True`` is the
default): it keeps x and y symmetric, which matters because DOODL averages them after each update.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import Tensor

from .common import Callback, Denoiser, Step, call_model

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
