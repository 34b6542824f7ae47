"""Tiny random Stable Diffusion components built from configs, offline (no weights exist in this world).

Shapes: images 3x16x16, latents 4x8x8 (the tiny VAE halves the resolution: scale factor 2, read from its
config like a real SD VAE's 8). Every call with the same seed gives the same weights.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

def tiny_sd_components(seed: int = 0, v_prediction: bool = False) -> dict[str, Any]:
    """unet, vae, text_encoder, tokenizer and scheduler of a tiny random SD model (keys of StableDiffusionPipeline).

    The global torch RNG is left as it was (the weights come from a forked RNG seeded with `seed`).
    """
    with torch.random.fork_rng(devices=[]):
        return _build(seed, v_prediction)


def _build(seed: int, v_prediction: bool) -> dict[str, Any]:
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from ..backends.sd import SD_SCHEDULER_CONFIG
    from .tokenizer import tiny_clip_tokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=4,
    )
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=16,
    )
    torch.manual_seed(seed + 2)
    # token ids follow tiny_clip_tokenizer: 0 start, 1 end, 2 pad ("!"), letters after
    text_config = CLIPTextConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
    )
    text_encoder = CLIPTextModel(text_config)
    config = dict(SD_SCHEDULER_CONFIG, prediction_type="v_prediction" if v_prediction else "epsilon")
    return {
        "unet": unet.eval(),
        "vae": vae.eval(),
        "text_encoder": text_encoder.eval(),
        "tokenizer": tiny_clip_tokenizer(),
        "scheduler": DDIMScheduler(**config),
    }


def tiny_sd_pipeline(seed: int = 0, v_prediction: bool = False):
    """A StableDiffusionPipeline around tiny_sd_components (no safety checker, no feature extractor)."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(
        **tiny_sd_components(seed, v_prediction),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_sd(folder: str | os.PathLike, seed: int = 0, v_prediction: bool = False) -> Path:
    """Write a tiny SD model with save_pretrained (model_index.json, unet/, vae/, ...) and return the folder."""
    path = Path(folder)
    tiny_sd_pipeline(seed, v_prediction).save_pretrained(path)
    return path
