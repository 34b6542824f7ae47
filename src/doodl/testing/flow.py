"""A toy rectified-flow velocity model with a known linear part, for tests of samplers on flow steps."""

from __future__ import annotations

import torch


class ToyVelocity:
    """v = eps - x0 for data ~ N(0, s^2 I) exactly (x_t = (1 - sigma) x0 + sigma eps), plus a nonlinear channel mix."""

    def __init__(self, channels: int = 4, s: float = 0.5, wiggle: float = 0.3, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.W = torch.randn(channels, channels, generator=g, dtype=torch.float64) / channels**0.5
        self.s, self.wiggle = s, wiggle

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        """v(x, t) with sigma = t / 1000 (the scheduler's timestep), for (B, C, H, W) latents."""
        sigma = float(t) / 1000.0
        s2 = self.s**2
        linear = (sigma - (1 - sigma) * s2) / ((1 - sigma) ** 2 * s2 + sigma**2) * x
        return linear + self.wiggle * torch.tanh(torch.einsum("bchw,cd->bdhw", x, self.W.to(x.dtype)))
