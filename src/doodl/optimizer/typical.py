"""Keep an optimised x_T typical of N(0, I) at every scale (ours, beyond the DOODL paper).

DOODL renormalises x_T to its initial norm (§4), which bounds the total energy but not where it sits: clipped
momentum steps can pile it into a few coarse modes (a bright or dark block of the noise), which a pixel-space
DDPM turns into a saturated, off-distribution image. Under N(0, I) the mean of an s x s block has standard
deviation 1/s; this clamps every block mean, at every power-of-two scale, to within `sigmas` of that, in one
pass from fine to coarse (each clamp is the smallest change that fixes its block; a coarse correction can leave a
fine block a little past its bound, which the next update's pass sees again).

Measured on the zoo DDPM (BENCHMARKS.md §5): it stops the collapse of an optimised x_T into an all-black image;
it did not raise target accuracy in our short tuning runs, so it is off by default.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def clamp_block_means(x: Tensor, sigmas: float = 3.0) -> Tensor:
    """Clamp the s x s block means of x (B, C, H, W) to |mean| <= sigmas / s for s = 2, 4, ... up to min(H, W)."""
    if x.ndim != 4:
        raise ValueError(f"x must be a (B, C, H, W) latent, got shape {tuple(x.shape)}")
    if not sigmas > 0:
        raise ValueError(f"sigmas must be positive, got {sigmas!r}")
    s = 2
    while s <= min(x.shape[-2:]):
        h, w = x.shape[-2] // s * s, x.shape[-1] // s * s
        core = x[..., :h, :w]
        mean = F.avg_pool2d(core, s)
        excess = mean - mean.clamp(-sigmas / s, sigmas / s)
        core = core - F.interpolate(excess, scale_factor=s, mode="nearest")
        x = x.clone()
        x[..., :h, :w] = core
        s *= 2
    return x
