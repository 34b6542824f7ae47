"""Classifier-free guidance as a model wrapper (Ho & Salimans 2022, eq. 6)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..samplers.common import Denoiser


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
