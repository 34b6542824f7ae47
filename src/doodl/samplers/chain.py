"""The EDICT chain: edict_sample with its gradient modes and its exact inverse edict_invert (DOODL eq. 5 and 6)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .common import Callback, Denoiser, Step, check_mix, check_pair, check_steps
from .edict import GradMode, inverse_step, run_chain
from .reversible import checkpointed_chain, reversible_chain

__all__ = ["GradMode", "edict_sample", "edict_invert"]


def edict_sample(
    model: Denoiser,
    xT: Tensor,
    yT: Tensor,
    steps: Sequence[Step],
    mix: float = 0.93,
    grad: GradMode = "reversible",
    *,
    leapfrog: bool = True,
    model_dtype: torch.dtype | None = None,
    params: Sequence[Tensor] = (),
    callback: Callback | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample (x0, y0) from (xT, yT) with EDICT; differentiable by the chosen gradient mode.

    Args:
        model: out = model(x, t) (eps for VP models, the velocity for rectified flow).
        xT, yT: initial latent pair, same shape (B, C, H, W); their dtype is the coupling arithmetic's dtype.
        steps: the chain, noisiest first: backend.steps(n), a slice of it (editing), or make_steps(...).
        mix: EDICT's p in (0, 1]; 0.93 as in the EDICT and DOODL papers.
        grad: "reversible" (memory constant in T: the backward pass rebuilds each step's input with eq. 6),
            "checkpoint" (keeps each step's input), "naive" (plain autograd), "none" (no graph at all).
        leapfrog: alternate which chain is updated first (by step.index parity; see edict.py).
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
    chain = check_steps(steps)
    if grad == "none":
        with torch.no_grad():
            return run_chain(model, xT, yT, chain, mix, leapfrog, model_dtype, callback)
    if grad == "naive":
        return run_chain(model, xT, yT, chain, mix, leapfrog, model_dtype, callback)
    if grad == "checkpoint":
        return checkpointed_chain(model, xT, yT, chain, mix, leapfrog, model_dtype, callback)
    if grad == "reversible":
        return reversible_chain(model, xT, yT, chain, mix, leapfrog, model_dtype, tuple(params), callback)
    raise ValueError(f"grad must be one of 'reversible', 'checkpoint', 'naive', 'none', got {grad!r}")


def edict_invert(
    model: Denoiser,
    x0: Tensor,
    y0: Tensor,
    steps: Sequence[Step],
    mix: float = 0.93,
    *,
    leapfrog: bool = True,
    model_dtype: torch.dtype | None = None,
    callback: Callback | None = None,
) -> tuple[Tensor, Tensor]:
    """Exactly undo edict_sample called with the same steps and options: (x0, y0) -> (xT, yT) by eq. 6."""
    check_pair(x0, y0, "x0", "y0")
    mix = check_mix(mix)
    chain = check_steps(steps)
    x, y = x0, y0
    with torch.no_grad():
        for step in reversed(chain):
            x, y = inverse_step(model, x, y, step, mix, leapfrog, model_dtype)
            if callback is not None:
                callback({"i": step.index, "t": step.t, "x": x, "y": y})
    return x, y
