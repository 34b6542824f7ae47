"""Stable Diffusion XL as a doodl backend (Podell et al. 2023), through diffusers' StableDiffusionXLPipeline.

The UNet takes the two text encoders' penultimate hidden states concatenated (CLIP ViT-L and OpenCLIP
ViT-bigG), the second encoder's pooled projection and the "added time ids" (original size, crop top-left,
target size) as SDXL's micro-conditioning; prompts embed through the pipeline's own encode_prompt, so an
empty negative prompt is zeros when the model says force_zeros_for_empty_prompt, as in diffusers.

Sampling is DDIM over a VPSchedule built from the scheduler config (whatever scheduler the folder ships:
its betas, steps_offset and timestep_spacing; set_alpha_to_one as DDIMScheduler defaults it), which is what
StableDiffusionXLPipeline computes with a DDIMScheduler made from that config. SDXL-Turbo ships "trailing"
spacing and is sampled at 1-4 steps with guidance_scale 0 or 1 (no CFG).

guidance_scale follows diffusers: CFG (Ho & Salimans 2022, eq. 6) runs only when it is > 1; default 5.0.
In float16 the VAE is kept in float32 when its config says force_upcast (SDXL's VAE overflows in fp16).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..conditioning import Conditioning
from ..guidance.cfg import batched_cfg, check_guidance_scale
from ..samplers.common import Denoiser
from ..schedules import VPSchedule
from .pipeline import PipelineBackend, check_size
from .sd import sd_alphas_cumprod

DEFAULT_GUIDANCE = 5.0  # StableDiffusionXLPipeline's default
TEXT_FIELDS = frozenset({"prompt", "negative_prompt", "guidance_scale", "prompt_embeds", "negative_prompt_embeds",
                         "pooled_prompt_embeds", "negative_pooled_prompt_embeds"})


def vp_schedule_from_config(config: dict[str, Any]) -> VPSchedule:
    """DDIM's VPSchedule from any diffusers VP scheduler config (as DDIMScheduler.from_config reads it); eps only."""
    prediction = config.get("prediction_type", "epsilon")
    if prediction != "epsilon":
        raise ValueError(f"scheduler prediction_type={prediction!r}: this backend supports epsilon prediction only")
    return VPSchedule(sd_alphas_cumprod(config), 1.0 if config.get("set_alpha_to_one", True) else None,
                      int(config.get("steps_offset", 0)), config.get("timestep_spacing", "leading"))


class StableDiffusionXLBackend(PipelineBackend):
    """SDXL latents (4, H/8, W/8): two CLIP text encoders, pooled embeddings, added time ids, CFG.

    Args:
        pipe: a built StableDiffusionXLPipeline (components are shared: moved, not copied).
        height, width: image size; default unet.config.sample_size times the VAE scale factor (1024 for SDXL).
        dtype, device: where the components run (default: the UNet's).
        vae_slicing, vae_tiling, gradient_checkpointing: memory options (see PipelineBackend).
    """

    pipeline_class = "StableDiffusionXLPipeline"
    name = "StableDiffusionXLBackend"
    required = ("vae", "scheduler")
    accepts = TEXT_FIELDS

    def __init__(self, pipe: Any, *, height: int | None = None, width: int | None = None,
                 dtype: torch.dtype | str | None = None, device: torch.device | str | None = None,
                 **memory: bool) -> None:
        super().__init__(pipe, dtype=dtype, device=device, denoiser_module="unet", **memory)
        self.unet = pipe.unet
        if self.unet.config.addition_embed_type != "text_time":
            raise ValueError(f"{self.name} needs an SDXL UNet (addition_embed_type='text_time', taking pooled "
                             f"embeddings and added time ids); this one has {self.unet.config.addition_embed_type!r}")
        self.schedule = vp_schedule_from_config(self.scheduler_config)
        f = 2 ** (len(self.vae.config.block_out_channels) - 1)
        size = self.unet.config.sample_size
        size = size if isinstance(size, int) else size[0]
        self.height = check_size("height", size * f if height is None else height, f)
        self.width = check_size("width", size * f if width is None else width, f)
        self.latent_shape = (int(self.unet.config.in_channels), self.height // f, self.width // f)
        self.image_shape = (int(self.vae.config.out_channels), self.height, self.width)
        self.cross_attention_dim = int(self.unet.config.cross_attention_dim)

    def time_ids(self) -> Tensor:
        """SDXL's micro-conditioning (original size, crop top-left, target size) = (H, W, 0, 0, H, W), as the pipeline."""
        ids = torch.tensor([[self.height, self.width, 0, 0, self.height, self.width]], dtype=self.dtype)
        expected = self.unet.add_embedding.linear_1.in_features
        passed = self.unet.config.addition_time_embed_dim * 6
        pooled = getattr(getattr(self.pipe, "text_encoder_2", None), "config", None)
        if pooled is not None and passed + pooled.projection_dim != expected:
            raise ValueError(f"UNet expects an added embedding of {expected}, but time ids and text_encoder_2's "
                             f"projection give {passed + pooled.projection_dim}")
        return ids.to(self.device)

    def encode_prompt(self, cond: Conditioning, cfg: bool) -> tuple[dict[str, Tensor], dict[str, Tensor] | None]:
        """Conditional and (if cfg) unconditional UNet contexts: embeds, pooled embeds and time ids."""
        prompt, negative = self.prompts(cond)
        pe = self.embeds(cond.prompt_embeds, "prompt_embeds", 3, self.cross_attention_dim)
        pooled = self.embeds(cond.pooled_prompt_embeds, "pooled_prompt_embeds", 2, None)
        npe = self.embeds(cond.negative_prompt_embeds, "negative_prompt_embeds", 3, self.cross_attention_dim)
        npooled = self.embeds(cond.negative_pooled_prompt_embeds, "negative_pooled_prompt_embeds", 2, None)
        if pe is not None and pooled is None:
            raise ValueError("prompt_embeds given without pooled_prompt_embeds; SDXL needs both (text_encoder_2's pooled output)")
        if cfg and npe is not None and npooled is None:
            raise ValueError("negative_prompt_embeds given without negative_pooled_prompt_embeds; SDXL needs both")
        if pe is None or (cfg and npe is None and not (negative is None and self.pipe.config.force_zeros_for_empty_prompt)):
            self.need("tokenizer", "text_encoder", "tokenizer_2", "text_encoder_2")

        def build() -> dict[str, Any]:
            out = self.pipe.encode_prompt(prompt=prompt, device=self.device, num_images_per_prompt=1,
                                          do_classifier_free_guidance=cfg, negative_prompt=negative,
                                          prompt_embeds=pe, negative_prompt_embeds=npe,
                                          pooled_prompt_embeds=pooled, negative_pooled_prompt_embeds=npooled)
            return dict(zip(("c", "u", "cp", "up"), out))

        tensors = any(v is not None for v in (pe, pooled, npe, npooled))
        e = build() if tensors else self.cached(("sdxl", tuple(prompt or ()), tuple(negative or ()), cfg), build)
        ids = self.time_ids()
        c = {"emb": e["c"].to(self.dtype), "pooled": e["cp"].to(self.dtype), "time_ids": ids}
        u = {"emb": e["u"].to(self.dtype), "pooled": e["up"].to(self.dtype), "time_ids": ids} if cfg else None
        return c, u

    def net(self, x: Tensor, t: int | float | Tensor, ctx: dict[str, Tensor]) -> Tensor:
        """One UNet call in the backend dtype, eps returned in x's dtype (the pipeline's own call)."""
        tt = t if isinstance(t, Tensor) else torch.full((), int(t), device=x.device, dtype=torch.long)
        added = {"text_embeds": ctx["pooled"], "time_ids": ctx["time_ids"]}
        return self.unet(x.to(self.dtype), tt, encoder_hidden_states=ctx["emb"], added_cond_kwargs=added).sample.to(x.dtype)

    def denoiser(self, cond: Conditioning | None = None, **options: Any) -> Denoiser:
        """eps = model(x, t) for the prompt(s), with CFG when guidance_scale > 1 (both branches in one call)."""
        cond = self.conditioning(cond, options)
        w = check_guidance_scale(DEFAULT_GUIDANCE if cond.guidance_scale is None else cond.guidance_scale)
        c, u = self.encode_prompt(cond, cfg=w > 1)

        return batched_cfg(self.net, c, u, w if u is not None else 1.0, cond_name="prompt", uncond_name="negative_prompt")
