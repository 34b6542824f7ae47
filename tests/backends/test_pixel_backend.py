"""PixelBackend's own checks (the project's UNet2DModel backend)."""

import pytest
from diffusers import UNet2DModel

from doodl.backends.pixel import PixelBackend
from doodl.conditioning import Conditioning
from doodl.schedules import make_alphas_cumprod


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), "3", True])
def test_pixel_backend_refuses_a_non_finite_guidance_scale(bad):
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 8), layers_per_block=1,
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       norm_num_groups=4, num_class_embeds=3)
    b = PixelBackend(unet, make_alphas_cumprod("linear"), num_classes=2)
    with pytest.raises(ValueError, match="guidance_scale must be a finite number"):
        b.denoiser(Conditioning(class_label=0, guidance_scale=bad))


def test_denoiser_takes_keyword_options_like_every_backend():
    import torch

    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 8), layers_per_block=1,
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       norm_num_groups=4, num_class_embeds=3)
    b = PixelBackend(unet, make_alphas_cumprod("linear"), num_classes=2)
    x = torch.randn(1, 1, 8, 8)
    with torch.no_grad():
        by_kwargs = b.denoiser(class_label=1, guidance_scale=2.0)(x, 500)
        by_cond = b.denoiser(Conditioning(class_label=1, guidance_scale=2.0))(x, 500)
    assert torch.equal(by_kwargs, by_cond)
    with pytest.raises(ValueError, match="not both"):
        b.denoiser(Conditioning(class_label=1), guidance_scale=2.0)
    with pytest.raises(ValueError, match="prompt"):
        b.denoiser(prompt="a bag")  # a pixel model takes no text: the option is named
