"""Classifier-free guidance as a model wrapper (Ho & Salimans 2022, eq. 6)."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from ..samplers.common import Denoiser


def check_guidance_scale(value: Any, name: str = "guidance_scale") -> float:
    """A finite number, else a ValueError naming the option."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not torch.isfinite(torch.tensor(float(value))):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def cfg(cond: Denoiser, uncond: Denoiser, scale: float) -> Denoiser:
    """eps = eps_u + w (eps_c - eps_u); w = 1 is the conditional model, w = 0 the unconditional one."""
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale != scale:
        raise ValueError(f"guidance scale must be a number, got {scale!r}")

    def guided(x: Tensor, t: int | Tensor) -> Tensor:
        e_u = uncond(x, t)
        if scale == 0:
            return e_u
        return torch.lerp(e_u, cond(x, t), float(scale))

    return guided


def _cat(a: Any, b: Any) -> Any:
    """Concatenate two conditioning contexts along the batch: tensors, tuples of them, or dicts of them (None kept)."""
    if a is None:
        return None
    if isinstance(a, Tensor):
        return torch.cat([a, b])
    if isinstance(a, tuple):
        return tuple(_cat(u, v) for u, v in zip(a, b))
    if isinstance(a, dict):
        return {k: _cat(a[k], b[k]) for k in a}
    return a  # scalars shared by both branches


def fit_batch(ctx: Any, batch: int, name: str = "conditioning") -> Any:
    """Broadcast a context's batch-1 tensors to `batch` (tuples and dicts too); any other batch must equal it."""
    if ctx is None:
        return None
    if isinstance(ctx, Tensor):
        if ctx.ndim == 0 or ctx.shape[0] == batch:
            return ctx
        if ctx.shape[0] == 1:
            return ctx.expand(batch, *ctx.shape[1:])
        raise ValueError(f"{name} has {ctx.shape[0]} entries; give one, or one per image in the batch ({batch})")
    if isinstance(ctx, tuple):
        return tuple(fit_batch(c, batch, name) for c in ctx)
    if isinstance(ctx, dict):
        return {k: fit_batch(v, batch, name) for k, v in ctx.items()}
    return ctx


def batched_cfg(net: Callable[[Tensor, Any, Any], Tensor], cond: Any, uncond: Any | None, scale: float, *,
                cond_name: str = "conditioning", uncond_name: str = "negative conditioning") -> Denoiser:
    """CFG with both branches in one batched network call: out = out_u + w (out_c - out_u) (Ho & Salimans 2022, eq. 6).

    net(x, t, context) runs the network on a batch; context is a tensor, a tuple or a dict of tensors whose
    batch matches x or is 1 (broadcast to x's batch). uncond None (or scale 1) runs the conditional branch only.
    The one CFG of every backend. A context with another batch is a ValueError naming `cond_name`/`uncond_name`.
    """
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale != scale:
        raise ValueError(f"guidance scale must be a number, got {scale!r}")
    w = float(scale)

    def guided(x: Tensor, t: int | float | Tensor) -> Tensor:
        B = x.shape[0]
        c = fit_batch(cond, B, cond_name)
        if uncond is None or w == 1.0:
            return net(x, t, c)
        u = fit_batch(uncond, B, uncond_name)
        out_u, out_c = net(torch.cat([x, x]), t, _cat(u, c)).chunk(2)
        return torch.lerp(out_u, out_c, w)

    return guided
