"""BDIA: exactly invertible two-step DDIM with one network call per step (Zhang, Lewis & Kleijn, ECCV 2024).

"Exact Diffusion Inversion via Bi-directional Integration Approximation" (arXiv 2307.10829). With the states
z_0 (noisiest), z_1, ..., z_N (clean) and out = model(z_k, t_k), step k >= 1 uses two integration
approximations from z_k: fwd_k, the DDIM (or Euler) step to t_{k+1}, and back_k, the same one-step estimate
taken back to t_{k-1}:

    z_{k+1} = z_{k-1} - gamma (z_{k-1} - z_k) - (1 - gamma) (back_k - z_k) + (fwd_k - z_k)

(the authors' eq. with their i+1 -> i -> i-1 as our k-1 -> k -> k+1; gamma = 1 is plain DDIM). Step 0 is a
plain DDIM step. Both estimates come from the one evaluation out(z_k, t_k): back_k = signal_{k-1} x0_hat +
noise_{k-1} eps_hat with (x0_hat, eps_hat) = (step.x0, step.eps), so the same code runs on VP and flow steps.
Solving for z_{k-1} gives the exact inverse, with one evaluation per step and a division by (1 - gamma):
rounding errors grow by up to 1 / (1 - gamma) per inverted step (measured in docs/exact_samplers.md).

The state is the pair (z_{N-1}, z_N): bdia_invert takes it back to (z_0, z_1) exactly, and bdia_sample from
that pair regenerates it. Gradients: "reversible" (memory constant in T: the backward pass rebuilds each
state with the exact inverse, one evaluation and one VJP per step, half of EDICT's), "naive" (plain
autograd) or "none". The reversible rebuild inherits the inverse's 1 / (1 - gamma) error growth: use gamma = 0.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .common import Denoiser, Step, call_model, check_latent, check_steps


def check_gamma(gamma: float) -> float:
    """BDIA's gamma must lie in [0, 1): gamma = 1 is DDIM, whose inverse would divide by zero."""
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0.0 <= float(gamma) < 1.0:
        raise ValueError(f"gamma must be a number in [0, 1), got {gamma!r}")
    return float(gamma)


def _estimates(model: Denoiser, z: Tensor, step: Step, prev: Step, model_dtype: torch.dtype | None) -> tuple[Tensor, Tensor]:
    """(fwd - z, back - z): the one-step moves from z_k to t_{k+1} and back to t_{k-1}, from one evaluation."""
    out = call_model(model, z, step.t, model_dtype)
    fwd = step.a * z + step.b * out
    back = prev.signal * step.x0(z, out) + prev.noise * step.eps(z, out)
    return fwd - z, back - z


def bdia_sample(
    model: Denoiser,
    zT: Tensor,
    steps: Sequence[Step],
    gamma: float = 0.0,
    *,
    z_next: Tensor | None = None,
    grad: str = "none",
    model_dtype: torch.dtype | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample with BDIA from zT (and z_next = z_1, default: the DDIM step from zT); returns (z_{N-1}, z_N).

    z_N is the sample; keep z_{N-1} to invert exactly. grad: "reversible", "naive" or "none" (module docstring);
    "reversible" takes the default z_next (gradients reach zT through the first DDIM step).
    """
    check_latent("zT", zT)
    gamma, chain = check_gamma(gamma), check_steps(steps)
    if grad not in ("reversible", "none", "naive"):
        raise ValueError(f"grad must be 'reversible', 'naive' or 'none' for BDIA, got {grad!r}")
    if grad == "reversible":
        if z_next is not None:
            raise ValueError("grad='reversible' starts from zT alone (z_next must be None)")
        return _ReversibleBdia.apply(zT, (model, chain, gamma, model_dtype))
    return _run(model, zT, chain, gamma, z_next, grad, model_dtype)


def _run(model: Denoiser, zT: Tensor, chain: list[Step], gamma: float, z_next: Tensor | None, grad: str,
         model_dtype: torch.dtype | None) -> tuple[Tensor, Tensor]:
    """The forward chain (grad as the caller's mode allows)."""
    with torch.set_grad_enabled(grad == "naive" and torch.is_grad_enabled()):
        first = chain[0]
        if z_next is None:
            z_next = first.a * zT + first.b * call_model(model, zT, first.t, model_dtype)
        else:
            check_latent("z_next", z_next)
        prev_z, z = zT, z_next
        for prev, step in zip(chain, chain[1:]):
            d_fwd, d_back = _estimates(model, z, step, prev, model_dtype)
            prev_z, z = z, prev_z - gamma * (prev_z - z) - (1 - gamma) * d_back + d_fwd
    return prev_z, z


def bdia_invert(
    model: Denoiser,
    z_prev: Tensor,
    z0: Tensor,
    steps: Sequence[Step],
    gamma: float = 0.0,
    *,
    model_dtype: torch.dtype | None = None,
) -> tuple[Tensor, Tensor]:
    """Exactly undo bdia_sample with the same steps and gamma: (z_{N-1}, z_N) -> (z_0, z_1)."""
    check_latent("z_prev", z_prev)
    check_latent("z0", z0)
    gamma, chain = check_gamma(gamma), check_steps(steps)
    if len(chain) < 2:
        raise ValueError("bdia_invert needs at least 2 steps (the first step is plain DDIM and is kept as z_1)")
    z, z_after = z_prev, z0
    with torch.no_grad():
        for prev, step in reversed(list(zip(chain, chain[1:]))):
            d_fwd, d_back = _estimates(model, z, step, prev, model_dtype)
            # z_after = (1 - gamma) z_before + gamma z - (1 - gamma) d_back + d_fwd, solved for z_before
            z_before = (z_after - gamma * z + (1 - gamma) * d_back - d_fwd) / (1 - gamma)
            z, z_after = z_before, z
    return z, z_after


class _ReversibleBdia(torch.autograd.Function):
    """Forward: the BDIA chain without a graph. Backward: rebuild each state by the inverse and pull back."""

    @staticmethod
    def forward(ctx, zT: Tensor, spec: tuple) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        model, chain, gamma, model_dtype = spec
        z_prev, z = _run(model, zT, chain, gamma, None, "none", model_dtype)
        ctx.spec = spec
        ctx.save_for_backward(z_prev, z)
        return z_prev, z

    @staticmethod
    def backward(ctx, g_prev: Tensor | None, g_cur: Tensor | None):  # type: ignore[override]
        model, chain, gamma, model_dtype = ctx.spec
        z, z_after = ctx.saved_tensors  # (z_k, z_{k+1}) with k = N - 1
        g_k = torch.zeros_like(z) if g_prev is None else g_prev  # dL/dz_k
        g_after = torch.zeros_like(z) if g_cur is None else g_cur  # dL/dz_{k+1}
        for prev, step in reversed(list(zip(chain, chain[1:]))):
            # z_{k+1} = (1 - gamma) z_{k-1} + gamma z_k + F(z_k), F = d_fwd - (1 - gamma) d_back: one evaluation
            with torch.enable_grad():
                z_ = z.detach().requires_grad_(True)
                d_fwd, d_back = _estimates(model, z_, step, prev, model_dtype)
                F = d_fwd - (1 - gamma) * d_back
                (vjp,) = torch.autograd.grad(F, z_, g_after)
            z_before = ((z_after - gamma * z - F.detach()) / (1 - gamma)).detach()
            g_before = (1 - gamma) * g_after
            g_k = g_k + gamma * g_after + vjp
            z, z_after, g_k, g_after = z_before, z, g_before, g_k
        # the first step z_1 = a zT + b out(zT): here z = zT, z_after = z_1, g_k = dL/dzT so far, g_after = dL/dz_1
        first = chain[0]
        with torch.enable_grad():
            z_ = z.detach().requires_grad_(True)
            z1 = first.a * z_ + first.b * call_model(model, z_, first.t, model_dtype)
            (vjp,) = torch.autograd.grad(z1, z_, g_after)
        return g_k + vjp, None
