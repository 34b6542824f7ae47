"""clamp_block_means: x_T kept typical of N(0, I) at every scale (ours), and its use in doodl.optimize."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import doodl
from doodl.optimizer.typical import clamp_block_means


def _max_block_sigmas(x: torch.Tensor) -> float:
    """Largest |block mean| in units of its N(0, I) standard deviation 1/s, over all scales."""
    s, worst = 2, 0.0
    while s <= min(x.shape[-2:]):
        worst = max(worst, float(F.avg_pool2d(x, s).abs().max() * s))
        s *= 2
    return worst


def test_typical_noise_is_left_alone():
    x = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    assert _max_block_sigmas(x) < 6
    assert torch.equal(clamp_block_means(x, 6.0), x)


def test_drifted_noise_is_brought_back_at_every_scale():
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    x[0] += 1.0  # a global brightness drift: the mean is 32 sigmas off
    x[1, :, :16, :16] -= 2.0  # a dark quadrant
    y = clamp_block_means(x, 3.0)
    assert _max_block_sigmas(x) > 30 and _max_block_sigmas(y) <= 3.0 + 1e-4
    # what is removed is coarse: each 2x2 block's deviation from its mean is kept exactly
    detail = lambda t: t - F.interpolate(F.avg_pool2d(t, 2), scale_factor=2, mode="nearest")
    torch.testing.assert_close(detail(y), detail(x))


def test_odd_sizes_and_bad_input():
    x = torch.randn(1, 4, 12, 20) + 2.0
    y = clamp_block_means(x)
    assert y.shape == x.shape and _max_block_sigmas(y) <= 3.0 + 1e-4
    with pytest.raises(ValueError, match="sigmas"):
        clamp_block_means(x, 0.0)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        clamp_block_means(torch.randn(3, 8, 8))
    with pytest.raises(ValueError, match="typical_clamp"):
        doodl.optimizer.DoodlConfig(typical_clamp=-1.0)


def test_optimize_applies_the_clamp(toy_backend):
    # Maximising brightness drives x_T's mean up; the clamp keeps every block mean within 3 sigmas.
    kw = dict(seed=[0, 1], num_inference_steps=4, opt_steps=6, lr=100.0, grad_clip=0.3, renormalize=False,
              select="last", progress=False)
    free = doodl.optimize(toy_backend, lambda im: -im.mean(dim=(1, 2, 3)), **kw)
    held = doodl.optimize(toy_backend, lambda im: -im.mean(dim=(1, 2, 3)), typical_clamp=3.0, **kw)
    assert _max_block_sigmas(free.latents) > 3.5
    assert _max_block_sigmas(held.latents) <= 3.0 + 1e-4
