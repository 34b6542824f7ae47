"""Gradients through the EDICT chain at constant memory: the backward pass rebuilds inputs with eq. 6.

DOODL (§4) backpropagates a loss on x0 to xT. Plain autograd keeps every step's activations (memory linear in
T); the released DOODL code kept every step's input (checkpointing). Here the forward pass keeps only the
final pair. Going backward, each step's input is rebuilt from its output with the exact inverse (eq. 6),
and the two network evaluations that the inverse makes are exactly the two that the forward step made
(eps(y_t) and eps(x_inter)), so we run them with grad on and reuse them for the vector-Jacobian products:
per step, 2 evaluations and 2 VJPs, about 8T evaluations for a whole gradient.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from .common import Denoiser, Step, call_model
from .edict import forward_step, run_chain, swapped


def step_backward(
    model: Denoiser,
    u_new: Tensor,
    v_new: Tensor,
    gu_new: Tensor,
    gv_new: Tensor,
    step: Step,
    mix: float,
    model_dtype: torch.dtype | None,
    params: Sequence[Tensor],
) -> tuple[Tensor, Tensor, Tensor, Tensor, list[Tensor | None]]:
    """Undo one edict_step on (u, v) with eq. 6 and pull (gu_new, gv_new) back through eq. 5.

    Returns the rebuilt inputs (u, v), their gradients, and the gradients of `params` from this step.
    """
    a, b, p = step.a, step.b, mix
    # Undo the mixing, eq. (6.1) and (6.2): linear, no network.
    v_inter = (v_new - (1 - p) * u_new) / p
    u_inter = (u_new - (1 - p) * v_inter) / p
    with torch.enable_grad():
        # (6.3): v = (v_inter - b eps(u_inter)) / a; eps(u_inter) is the evaluation of forward (5.2).
        u_inter_ = u_inter.detach().requires_grad_(True)
        eps_u = call_model(model, u_inter_, step.t, model_dtype)
        v = ((v_inter - b * eps_u.detach()) / a).detach()
        # (6.4): u = (u_inter - b eps(v)) / a; eps(v) is the evaluation of forward (5.1).
        v_ = v.clone().requires_grad_(True)
        eps_v = call_model(model, v_, step.t, model_dtype)
        u = ((u_inter - b * eps_v.detach()) / a).detach()
        # Chain rule through eq. 5, last line first.
        gu_new = gu_new + (1 - p) * gv_new  # (5.4) v_new = p v_inter + (1-p) u_new
        g_vinter = p * gv_new + (1 - p) * gu_new  # (5.3) u_new = p u_inter + (1-p) v_inter
        g_uinter = p * gu_new
        # (5.2) v_inter = a v + b eps(u_inter)
        g = torch.autograd.grad(eps_u, (u_inter_, *params), b * g_vinter, allow_unused=True)
        g_uinter = g_uinter + g[0]
        g_v = a * g_vinter
        # (5.1) u_inter = a u + b eps(v)
        h = torch.autograd.grad(eps_v, (v_, *params), b * g_uinter, allow_unused=True)
        g_v = g_v + h[0]
        g_u = a * g_uinter
    param_grads = [_add(gi, hi) for gi, hi in zip(g[1:], h[1:])]
    return u, v, g_u, g_v, param_grads


def _add(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    if a is None:
        return b
    return a if b is None else a + b


class _ReversibleEdict(torch.autograd.Function):
    """Forward: the EDICT chain without a graph. Backward: the explicit loop of step_backward."""

    @staticmethod
    def forward(ctx, xT: Tensor, yT: Tensor, spec: tuple, *params: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        model, steps, mix, leapfrog, model_dtype = spec
        x0, y0 = run_chain(model, xT, yT, steps, mix, leapfrog, model_dtype)
        ctx.spec = spec
        ctx.params = params
        ctx.save_for_backward(x0, y0)
        return x0, y0

    @staticmethod
    def backward(ctx, gx: Tensor | None, gy: Tensor | None):  # type: ignore[override]
        model, steps, mix, leapfrog, model_dtype = ctx.spec
        x, y = ctx.saved_tensors
        gx = torch.zeros_like(x) if gx is None else gx
        gy = torch.zeros_like(y) if gy is None else gy
        params = [q for q in ctx.params if q.requires_grad]
        totals: list[Tensor | None] = [None] * len(params)
        for step in reversed(steps):
            if swapped(step, leapfrog):
                y, x, gy, gx, pg = step_backward(model, y, x, gy, gx, step, mix, model_dtype, params)
            else:
                x, y, gx, gy, pg = step_backward(model, x, y, gx, gy, step, mix, model_dtype, params)
            totals = [_add(t, g) for t, g in zip(totals, pg)]
        it = iter(totals)
        out = [next(it) if q.requires_grad else None for q in ctx.params]
        return (gx, gy, None, *out)


def reversible_chain(
    model: Denoiser,
    xT: Tensor,
    yT: Tensor,
    steps: Sequence[Step],
    mix: float,
    leapfrog: bool,
    model_dtype: torch.dtype | None,
    params: Sequence[Tensor] = (),
) -> tuple[Tensor, Tensor]:
    """EDICT chain whose backward pass keeps only the final pair (memory independent of T)."""
    return _ReversibleEdict.apply(xT, yT, (model, list(steps), mix, leapfrog, model_dtype), *params)


def checkpointed_chain(
    model: Denoiser,
    xT: Tensor,
    yT: Tensor,
    steps: Sequence[Step],
    mix: float,
    leapfrog: bool,
    model_dtype: torch.dtype | None,
) -> tuple[Tensor, Tensor]:
    """EDICT chain that keeps each step's input and recomputes the step in backward (the released code's way)."""
    x, y = xT, yT
    for step in steps:
        x, y = checkpoint(forward_step, model, x, y, step, mix, leapfrog, model_dtype, use_reentrant=False)
    return x, y
