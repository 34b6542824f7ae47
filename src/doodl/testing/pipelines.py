"""Tiny random SDXL, SD3 and Flux pipelines built from configs, offline (sizes as in diffusers' pipeline tests).

``save_tiny_pipeline(kind, folder)`` writes one with save_pretrained; ``diffusers.DiffusionPipeline.from_pretrained``
and ``doodl.load_backend`` read it back with no network. Shapes (image -> latent): "sd" 3x16x16 -> 4x8x8,
"sdxl" 3x32x32 -> 4x16x16, "sd3" 3x32x32 -> 4x32x32, "flux"/"flux-schnell" 3x32x32 -> 1x32x32 (packed
inside the backend to 256 tokens of 4). Every call with the same seed gives the same weights; the global
torch RNG is left as it was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import torch

KINDS = ("sd", "sdxl", "sd3", "flux", "flux-schnell")
CLIP_VOCAB = 64  # tiny_clip_tokenizer's ids are < 55
T5_VOCAB = 64  # tiny_t5_tokenizer's ids are < 56
# Flux-dev's scheduler config (dynamic shifting; FluxPipeline computes mu from the token count)
FLUX_DEV_SCHEDULER = {"base_image_seq_len": 256, "base_shift": 0.5, "max_image_seq_len": 4096, "max_shift": 1.15,
                      "num_train_timesteps": 1000, "shift": 3.0, "use_dynamic_shifting": True}
# SDXL base's scheduler_config.json values (EulerDiscreteScheduler keeps the DDIM keys it does not use;
# doodl samples them with DDIM)
SDXL_SCHEDULER = {"beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False,
                  "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": False,
                  "steps_offset": 1, "timestep_spacing": "leading"}


def _clip_text(seed: int, hidden: int, projection: bool, projection_dim: int = 32):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    config = CLIPTextConfig(vocab_size=CLIP_VOCAB, hidden_size=hidden, intermediate_size=37, num_hidden_layers=2,
                            num_attention_heads=2, max_position_embeddings=77, projection_dim=projection_dim,
                            bos_token_id=0, eos_token_id=1, pad_token_id=2)
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config).eval()


def _t5(seed: int, d_model: int = 32):
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    config = T5Config(vocab_size=T5_VOCAB, d_model=d_model, d_ff=37, d_kv=8, num_layers=2, num_heads=4,
                      relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    return T5EncoderModel(config).eval()


def _flat_vae(seed: int, latent_channels: int):
    """One-level VAE (scale factor 1) with SD3/Flux-style scaling and shift, as diffusers' tests build it."""
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(4,), layers_per_block=1,
                         latent_channels=latent_channels, norm_num_groups=1, use_quant_conv=False,
                         use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035).eval()


def tiny_sdxl_components(seed: int = 0) -> dict[str, Any]:
    """StableDiffusionXLPipeline components: UNet with text_time embedding (6 x 8 + 32), two CLIP encoders."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel

    from .tokenizer import tiny_clip_tokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=80,
        cross_attention_dim=64, norm_num_groups=4,
    ).eval()
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(8, 16), layers_per_block=1,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        latent_channels=4, norm_num_groups=4, sample_size=32, scaling_factor=0.13025).eval()
    return {"unet": unet, "vae": vae, "scheduler": EulerDiscreteScheduler.from_config(SDXL_SCHEDULER),
            "text_encoder": _clip_text(seed + 2, 32, False), "tokenizer": tiny_clip_tokenizer(),
            "text_encoder_2": _clip_text(seed + 3, 32, True), "tokenizer_2": tiny_clip_tokenizer()}


def tiny_sd3_components(seed: int = 0) -> dict[str, Any]:
    """StableDiffusion3Pipeline components: 1-layer MMDiT, CLIP-L/-G stand-ins (16 wide), T5 (32 wide)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel

    from .tokenizer import tiny_clip_tokenizer, tiny_t5_tokenizer

    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(sample_size=32, patch_size=1, in_channels=4, num_layers=1, attention_head_dim=8,
                                        num_attention_heads=4, caption_projection_dim=32, joint_attention_dim=32,
                                        pooled_projection_dim=64, out_channels=4).eval()
    return {"transformer": transformer, "vae": _flat_vae(seed + 1, 4),
            "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0),
            "text_encoder": _clip_text(seed + 2, 16, True), "tokenizer": tiny_clip_tokenizer(),
            "text_encoder_2": _clip_text(seed + 3, 16, True), "tokenizer_2": tiny_clip_tokenizer(),
            "text_encoder_3": _t5(seed + 4), "tokenizer_3": tiny_t5_tokenizer()}


def tiny_flux_components(seed: int = 0, schnell: bool = False) -> dict[str, Any]:
    """FluxPipeline components: 1 + 1 layer transformer (guidance embedding unless schnell), CLIP 32, T5 32."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel

    from .tokenizer import tiny_clip_tokenizer, tiny_t5_tokenizer

    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=4, num_layers=1, num_single_layers=1,
                                         attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                         pooled_projection_dim=32, axes_dims_rope=[4, 4, 8],
                                         guidance_embeds=not schnell).eval()
    scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0) if schnell else FlowMatchEulerDiscreteScheduler(**FLUX_DEV_SCHEDULER)
    return {"transformer": transformer, "vae": _flat_vae(seed + 1, 1), "scheduler": scheduler,
            "text_encoder": _clip_text(seed + 2, 32, False), "tokenizer": tiny_clip_tokenizer(),
            "text_encoder_2": _t5(seed + 3), "tokenizer_2": tiny_t5_tokenizer()}


def tiny_pipeline(kind: str, seed: int = 0):
    """A built tiny diffusers pipeline of `kind` ("sd", "sdxl", "sd3", "flux" (dev), "flux-schnell")."""
    from diffusers import FluxPipeline, StableDiffusion3Pipeline, StableDiffusionXLPipeline

    from .sd import tiny_sd_pipeline

    builders: dict[str, Callable[[], Any]] = {
        "sd": lambda: tiny_sd_pipeline(seed),
        "sdxl": lambda: StableDiffusionXLPipeline(**tiny_sdxl_components(seed)),
        "sd3": lambda: StableDiffusion3Pipeline(**tiny_sd3_components(seed)),
        "flux": lambda: FluxPipeline(**tiny_flux_components(seed)),
        "flux-schnell": lambda: FluxPipeline(**tiny_flux_components(seed, schnell=True)),
    }
    if kind not in builders:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        pipe = builders[kind]()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_pipeline(kind: str, folder: str | os.PathLike, seed: int = 0) -> Path:
    """Write tiny_pipeline(kind, seed) with save_pretrained and return the folder (loads offline)."""
    pipe = tiny_pipeline(kind, seed)
    path = Path(folder)
    pipe.save_pretrained(path)
    return path
