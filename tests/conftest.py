"""Shared fixtures: tiny random diffusers UNets built from configs under torch.manual_seed(0)."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


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
    return unet.to(dtype).eval().requires_grad_(False)


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
