"""Shared fixtures: tiny random diffusers UNets built from configs under torch.manual_seed(0)."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One thread: the test models are tiny, and on a shared 2-core machine a second thread made them ~10x slower.
torch.set_num_threads(1)


def tiny_unet(dtype: torch.dtype = torch.float64, channels: int = 3, size: int = 8):
    """A tiny random UNet2DModel (with attention) for sampler math tests."""
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=size,
        in_channels=channels,
        out_channels=channels,
        layers_per_block=1,
        block_out_channels=(8, 16),
        norm_num_groups=4,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=4,
    )
    unet = unet if dtype == torch.float32 else unet.to(dtype)
    return unet.eval().requires_grad_(False)


@pytest.fixture
def unet64():
    return tiny_unet(torch.float64)


@pytest.fixture
def model64(unet64):
    return lambda x, t: unet64(x, t).sample


@pytest.fixture
def sd_alphas():
    from doodl.schedules import make_alphas_cumprod

    return make_alphas_cumprod("scaled_linear")


class ToyUNet(torch.nn.Module):
    """A UNet2DModel stand-in with a known answer: the exact eps for data ~ N(0, sigma^2 I), plus a small
    random UNet term so the map is nonlinear. Sampling it gives images inside [-1, 1] (no clamping)."""

    def __init__(self, alphas_cumprod: torch.Tensor, sigma: float = 0.4, size: int = 12, wiggle: float = 0.3):
        super().__init__()
        self.net = tiny_unet(torch.float32, channels=1, size=size)
        self.config = self.net.config
        self.register_buffer("ac", alphas_cumprod.float())
        self.sigma, self.wiggle = sigma, wiggle

    def forward(self, x, t, class_labels=None):
        from types import SimpleNamespace

        a = self.ac[int(t)].to(x.dtype)
        eps = (1 - a).sqrt() * x / (a * self.sigma**2 + 1 - a)
        # the random term is scaled by sqrt(a) so its effect on the x0 estimate stays bounded at high noise
        return SimpleNamespace(sample=eps + self.wiggle * a.sqrt() * self.net(x, t).sample)


@pytest.fixture
def toy_backend():
    """A PixelBackend (pad 2, 8x8 images) around ToyUNet on DDPM's linear schedule."""
    from doodl.backends import PixelBackend
    from doodl.schedules import make_alphas_cumprod

    ac = make_alphas_cumprod("linear")
    return PixelBackend(ToyUNet(ac), ac, pad=2)
