"""Stable Diffusion 1.5's architecture at 512x512 with random weights, and a CLIP ViT-L/14-architecture scorer.

Speed and memory do not depend on the weight values, so the GPU benchmarks build the real shapes from their
configs (no download): UNet2DConditionModel (860M parameters), AutoencoderKL (84M), the CLIP ViT-L/14 text
encoder that conditions SD 1.x, and a CLIP ViT-L/14 image/text model scoring 16 crops per image (DOODL §5.1).
Parameters are created directly on the device, in the network dtype.
"""

from __future__ import annotations

import torch

from doodl.backends import StableDiffusionBackend
from doodl.backends.sd import as_dtype
from doodl.scorers import ClipEmbedder, ClipTextScorer, MultiCrop
from doodl.testing import tiny_clip_tokenizer

# Stable Diffusion v1.5 unet/config.json and vae/config.json values (the architecture, not the weights)
UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, cross_attention_dim=768,
            block_out_channels=(320, 640, 1280, 1280), attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=512,
           block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
           up_block_types=("UpDecoderBlock2D",) * 4)
# CLIP ViT-L/14 (openai/clip-vit-large-patch14 config.json values)
TEXT_L14 = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                num_attention_heads=12, max_position_embeddings=77, projection_dim=768)
VISION_L14 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                  image_size=224, patch_size=14, projection_dim=768)


def _on(device: str, dtype: torch.dtype, build):
    """Build a module with its parameters allocated on `device` (fast random init), then cast."""
    torch.manual_seed(0)
    with torch.device(device):
        m = build()
    return m.to(dtype).eval().requires_grad_(False)


def sd15_unet(device: str, dtype: torch.dtype = torch.float32):
    """The SD 1.5 UNet architecture and a random (1, 77, 768) text context."""
    from diffusers import UNet2DConditionModel

    unet = _on(device, dtype, lambda: UNet2DConditionModel(**UNET))
    ctx = torch.randn(1, 77, 768, generator=torch.Generator().manual_seed(0)).to(device, dtype)
    return unet, ctx


def build_sd15(device: str, dtype: str = "float16", crops: int = 16, channels_last: bool = True,
               compile_unet: bool = False, prompt: str = "a photo of a red cube on a blue sphere"):
    """(backend, loss, conditioning) with SD 1.5's architecture at 512x512 and a CLIP L/14 scorer on `crops` crops."""
    from diffusers import AutoencoderKL
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPTextModel

    dt = as_dtype(dtype)
    tok = tiny_clip_tokenizer()  # token ids only index the embedding table; the vocabulary does not change speed
    unet, _ = sd15_unet(device, dt)
    vae = _on(device, dt, lambda: AutoencoderKL(**VAE))
    text = _on(device, dt, lambda: CLIPTextModel(CLIPTextConfig(**TEXT_L14)))
    backend = StableDiffusionBackend(unet, vae, text, tok, dtype=dt, device=device, channels_last=channels_last)
    if compile_unet:
        backend.unet = torch.compile(backend.unet)
    clip = _on(device, dt, lambda: CLIPModel(CLIPConfig(text_config=TEXT_L14, vision_config=VISION_L14, projection_dim=768)))
    scorer = ClipTextScorer(ClipEmbedder(clip, tok, name="clip-vit-l14-arch"), prompt, crops=MultiCrop(crops, size=224))
    return backend, scorer, {"prompt": prompt, "guidance_scale": 7.5}
