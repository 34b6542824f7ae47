"""SDXL, SD3 and Flux architectures with random weights, for doodl_step.py --arch (no download: speed does not
depend on weight values).

Configs are the public ones (stabilityai/stable-diffusion-xl-base-1.0, stabilityai/stable-diffusion-3-medium-
diffusers, black-forest-labs/FLUX.1-dev: unet|transformer/config.json and vae/config.json). Text encoders are
not built: the backends take precomputed prompt embeddings of the real shapes (random here), which is also how
users run T5-XXL once and cache it. ``scale`` < 1 shrinks depth and width for a CPU run (say which one ran).
"""

from __future__ import annotations

from typing import Any

import torch

# public configs (the architecture, not the weights)
SDXL_UNET = dict(sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280), transformer_layers_per_block=(1, 2, 10),
                 attention_head_dim=(5, 10, 20), cross_attention_dim=2048, use_linear_projection=True,
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                 addition_embed_type="text_time", addition_time_embed_dim=256,
                 projection_class_embeddings_input_dim=2816)
SD_VAE = dict(in_channels=3, out_channels=3, layers_per_block=2, block_out_channels=(128, 256, 512, 512),
              down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
SDXL_VAE = dict(SD_VAE, latent_channels=4, sample_size=1024, scaling_factor=0.13025, force_upcast=True)
SD3_TRANSFORMER = dict(sample_size=128, patch_size=2, in_channels=16, out_channels=16, num_layers=24,
                       attention_head_dim=64, num_attention_heads=24, joint_attention_dim=4096,
                       caption_projection_dim=1536, pooled_projection_dim=2048, pos_embed_max_size=192)
SD3_VAE = dict(SD_VAE, latent_channels=16, sample_size=1024, scaling_factor=1.5305, shift_factor=0.0609,
               use_quant_conv=False, use_post_quant_conv=False)
FLUX_TRANSFORMER = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
                        num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768,
                        guidance_embeds=True, axes_dims_rope=(16, 56, 56))
FLUX_VAE = dict(SD3_VAE, scaling_factor=0.3611, shift_factor=0.1159)
FLUX_SCHEDULER = dict(base_image_seq_len=256, base_shift=0.5, max_image_seq_len=4096, max_shift=1.15, shift=3.0,
                      use_dynamic_shifting=True)
SDXL_SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
                      set_alpha_to_one=False, clip_sample=False, timestep_spacing="leading")
# text context shapes: (tokens, width), pooled width
TEXT = {"sdxl": ((77, 2048), 1280), "sd3": ((77 + 256, 4096), 2048), "flux": ((512, 4096), 768)}


def _n(v: int, scale: float, least: int = 1) -> int:
    return max(least, round(v * scale))


def scaled(arch: str, scale: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """(network config, VAE config) of `arch` with depth and width times `scale` (1: the real model)."""
    if scale == 1:
        return {"sdxl": (SDXL_UNET, SDXL_VAE), "sd3": (SD3_TRANSFORMER, SD3_VAE), "flux": (FLUX_TRANSFORMER, FLUX_VAE)}[arch]
    vae = {"sdxl": SDXL_VAE, "sd3": SD3_VAE, "flux": FLUX_VAE}[arch]
    vae = dict(vae, block_out_channels=tuple(_n(c, scale, 32) // 32 * 32 for c in vae["block_out_channels"]), layers_per_block=1)
    if arch == "sdxl":
        widths = tuple(_n(c, scale, 32) // 32 * 32 for c in (320, 640, 1280))
        net = dict(SDXL_UNET, block_out_channels=widths, attention_head_dim=tuple(w // 32 for w in widths),
                   transformer_layers_per_block=tuple(_n(n, scale) for n in (1, 2, 10)), layers_per_block=1)
        return net, vae
    if arch == "sd3":
        return dict(SD3_TRANSFORMER, num_layers=_n(24, scale), num_attention_heads=_n(24, scale, 2),
                    caption_projection_dim=_n(24, scale, 2) * 64), vae
    heads = _n(24, scale, 2)
    return dict(FLUX_TRANSFORMER, num_layers=_n(19, scale), num_single_layers=_n(38, scale), num_attention_heads=heads), vae


def build(arch: str, device: str, dtype: torch.dtype, size: int, scale: float = 1.0, text_tokens: int | None = None):
    """(backend, conditioning) for `arch` at size x size pixels, random weights, precomputed random prompt embeddings."""
    import diffusers

    from doodl.backends.flux import FluxBackend
    from doodl.backends.sd3 import StableDiffusion3Backend
    from doodl.backends.sdxl import StableDiffusionXLBackend

    net_cfg, vae_cfg = scaled(arch, scale)
    torch.manual_seed(0)
    with torch.device(device):
        vae = diffusers.AutoencoderKL(**vae_cfg)
        if arch == "sdxl":
            net = diffusers.UNet2DConditionModel(**net_cfg)
        elif arch == "sd3":
            net = diffusers.SD3Transformer2DModel(**net_cfg)
        else:
            net = diffusers.FluxTransformer2DModel(**net_cfg)
    net, vae = (m.to(dtype).eval().requires_grad_(False) for m in (net, vae))
    (tokens, width), pooled_width = TEXT[arch]
    tokens = tokens if text_tokens is None else text_tokens
    g = torch.Generator().manual_seed(0)
    cond = {"prompt_embeds": torch.randn(1, tokens, width, generator=g).to(device, dtype),
            "pooled_prompt_embeds": torch.randn(1, pooled_width, generator=g).to(device, dtype)}
    if arch == "sdxl":
        pipe = diffusers.StableDiffusionXLPipeline(vae=vae, text_encoder=None, text_encoder_2=None, tokenizer=None,
                                                   tokenizer_2=None, unet=net,
                                                   scheduler=diffusers.EulerDiscreteScheduler.from_config(SDXL_SCHEDULER))
        return StableDiffusionXLBackend(pipe, height=size, width=size, dtype=dtype, device=device), {
            **cond, "negative_prompt_embeds": torch.zeros_like(cond["prompt_embeds"]),
            "negative_pooled_prompt_embeds": torch.zeros_like(cond["pooled_prompt_embeds"]), "guidance_scale": 5.0}
    sched = diffusers.FlowMatchEulerDiscreteScheduler(**(FLUX_SCHEDULER if arch == "flux" else {"shift": 3.0}))
    if arch == "sd3":
        pipe = diffusers.StableDiffusion3Pipeline(transformer=net, scheduler=sched, vae=vae, text_encoder=None,
                                                  tokenizer=None, text_encoder_2=None, tokenizer_2=None,
                                                  text_encoder_3=None, tokenizer_3=None)
        return StableDiffusion3Backend(pipe, height=size, width=size, dtype=dtype, device=device), {
            **cond, "negative_prompt_embeds": torch.zeros_like(cond["prompt_embeds"]),
            "negative_pooled_prompt_embeds": torch.zeros_like(cond["pooled_prompt_embeds"]), "guidance_scale": 7.0}
    pipe = diffusers.FluxPipeline(scheduler=sched, vae=vae, text_encoder=None, tokenizer=None, text_encoder_2=None,
                                  tokenizer_2=None, transformer=net)
    return FluxBackend(pipe, height=size, width=size, dtype=dtype, device=device), {**cond, "guidance_scale": 3.5}


def saved_mb(model, xT, steps, mode: str) -> float:
    """MB that autograd keeps for the backward pass of the EDICT chain in `mode` (saved-tensor hooks; exact)."""
    from doodl.samplers import edict_sample

    from doodl.testing.memory import saved_bytes

    x = xT.clone().requires_grad_(True)
    saved, _ = saved_bytes(lambda: edict_sample(model, x, x, steps, grad=mode))
    return saved / 2**20
