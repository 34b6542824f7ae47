"""Stable Diffusion 3 / 3.5 as a doodl backend (Esser et al. 2024, rectified flow), through StableDiffusion3Pipeline.

The MMDiT (SD3Transformer2DModel) predicts the velocity v = eps - x0; sampling is Euler over a FlowSchedule
from the FlowMatchEulerDiscreteScheduler config (SD3's shift 3.0; dynamic shifting with mu from the token
count when the config asks, as the pipeline does). The transformer gets the scheduler's timestep sigma * 1000.

Text: CLIP-L and CLIP-G penultimate states (concatenated, zero-padded to the T5 width) followed by T5's
tokens along the sequence, and both CLIPs' pooled projections; the pipeline's own encode_prompt builds them.
T5 may be absent (text_encoder_3=None), in which case its part is zeros, as diffusers does; the CLIP
encoders are needed to embed a prompt (a missing one is named) but not when prompt_embeds and
pooled_prompt_embeds are passed precomputed (T5-XXL is 9 GB; cache its output).

guidance_scale follows diffusers: CFG through batched_cfg only when > 1; default 7.0 (the pipeline's).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..conditioning import Conditioning
from ..guidance.cfg import batched_cfg, check_guidance_scale
from ..samplers.common import Denoiser
from ..schedules import FlowSchedule, flux_mu
from .pipeline import PipelineBackend, check_size
from .sdxl import TEXT_FIELDS

DEFAULT_GUIDANCE = 7.0  # StableDiffusion3Pipeline's default
MAX_SEQUENCE_LENGTH = 256  # T5 tokens, the pipeline's default


class StableDiffusion3Backend(PipelineBackend):
    """SD3 latents (16, H/8, W/8) with a rectified-flow MMDiT; out(x, t) is the velocity.

    Args:
        pipe: a built StableDiffusion3Pipeline (components shared).
        height, width: image size; default transformer.config.sample_size times the VAE scale factor.
        max_sequence_length: T5 tokens (256, as the pipeline).
        dtype, device: where the components run (default: the transformer's).
        vae_slicing, vae_tiling, gradient_checkpointing: memory options (see PipelineBackend).
    """

    pipeline_class = "StableDiffusion3Pipeline"
    name = "StableDiffusion3Backend"
    accepts = TEXT_FIELDS

    def __init__(self, pipe: Any, *, height: int | None = None, width: int | None = None,
                 max_sequence_length: int = MAX_SEQUENCE_LENGTH, dtype: torch.dtype | str | None = None,
                 device: torch.device | str | None = None, **memory: bool) -> None:
        super().__init__(pipe, dtype=dtype, device=device, denoiser_module="transformer", **memory)
        self.transformer = pipe.transformer
        cfg = self.transformer.config
        f = 2 ** (len(self.vae.config.block_out_channels) - 1)
        patch = int(cfg.patch_size)
        self.height = check_size("height", cfg.sample_size * f if height is None else height, f * patch)
        self.width = check_size("width", cfg.sample_size * f if width is None else width, f * patch)
        if not isinstance(max_sequence_length, int) or isinstance(max_sequence_length, bool) or max_sequence_length < 1:
            raise ValueError(f"max_sequence_length must be a positive int, got {max_sequence_length!r}")
        self.max_sequence_length = max_sequence_length
        self.latent_shape = (int(cfg.in_channels), self.height // f, self.width // f)
        self.image_shape = (int(self.vae.config.out_channels), self.height, self.width)
        sc = self.scheduler_config
        mu = None
        if sc.get("use_dynamic_shifting"):  # SD3.5 variants with dynamic shifting: mu from the token count
            seq = (self.latent_shape[1] // patch) * (self.latent_shape[2] // patch)
            mu = flux_mu(seq, sc.get("base_image_seq_len", 256), sc.get("max_image_seq_len", 4096),
                         sc.get("base_shift", 0.5), sc.get("max_shift", 1.16))
        self.schedule = FlowSchedule.from_config(sc, mu=mu)

    def encode_prompt(self, cond: Conditioning, cfg: bool) -> tuple[dict[str, Tensor], dict[str, Tensor] | None]:
        """Conditional and (if cfg) unconditional contexts: joint text tokens and pooled projections."""
        prompt, negative = self.prompts(cond)
        width = int(self.transformer.config.joint_attention_dim)
        pooled_width = int(self.transformer.config.pooled_projection_dim)
        pe = self.embeds(cond.prompt_embeds, "prompt_embeds", 3, width)
        pooled = self.embeds(cond.pooled_prompt_embeds, "pooled_prompt_embeds", 2, pooled_width)
        npe = self.embeds(cond.negative_prompt_embeds, "negative_prompt_embeds", 3, width)
        npooled = self.embeds(cond.negative_pooled_prompt_embeds, "negative_pooled_prompt_embeds", 2, pooled_width)
        if (pe is None) != (pooled is None):
            raise ValueError("prompt_embeds and pooled_prompt_embeds go together for SD3; give both or neither")
        if cfg and (npe is None) != (npooled is None):
            raise ValueError("negative_prompt_embeds and negative_pooled_prompt_embeds go together for SD3")
        if pe is None or (cfg and npe is None):
            self.need("tokenizer", "text_encoder", "tokenizer_2", "text_encoder_2")
            if (self.pipe.text_encoder_3 is None) != (self.pipe.tokenizer_3 is None):
                self.need("tokenizer_3", "text_encoder_3", why="(T5: give both, or neither for zeros)")

        def build() -> dict[str, Any]:
            out = self.pipe.encode_prompt(prompt=prompt, prompt_2=None, prompt_3=None, device=self.device,
                                          num_images_per_prompt=1, do_classifier_free_guidance=cfg,
                                          negative_prompt=negative, prompt_embeds=pe, negative_prompt_embeds=npe,
                                          pooled_prompt_embeds=pooled, negative_pooled_prompt_embeds=npooled,
                                          max_sequence_length=self.max_sequence_length)
            return dict(zip(("c", "u", "cp", "up"), out))

        tensors = any(v is not None for v in (pe, pooled, npe, npooled))
        key = ("sd3", tuple(prompt or ()), tuple(negative or ()), cfg, self.max_sequence_length)
        e = build() if tensors else self.cached(key, build)
        c = {"emb": e["c"].to(self.dtype), "pooled": e["cp"].to(self.dtype)}
        u = {"emb": e["u"].to(self.dtype), "pooled": e["up"].to(self.dtype)} if cfg else None
        return c, u

    def net(self, x: Tensor, t: int | float | Tensor, ctx: dict[str, Tensor]) -> Tensor:
        """One transformer call at timestep t (= sigma * 1000, as the pipeline passes it); velocity in x's dtype."""
        tt = t.expand(x.shape[0]) if isinstance(t, Tensor) else torch.full((x.shape[0],), float(t), device=x.device)
        out = self.transformer(hidden_states=x.to(self.dtype), timestep=tt.to(torch.float32),
                               encoder_hidden_states=ctx["emb"], pooled_projections=ctx["pooled"], return_dict=False)[0]
        return out.to(x.dtype)

    def denoiser(self, cond: Conditioning | None = None, **options: Any) -> Denoiser:
        """v = model(x, t) for the prompt(s), with CFG when guidance_scale > 1 (both branches in one call)."""
        cond = self.conditioning(cond, options)
        w = check_guidance_scale(DEFAULT_GUIDANCE if cond.guidance_scale is None else cond.guidance_scale)
        c, u = self.encode_prompt(cond, cfg=w > 1)

        return batched_cfg(self.net, c, u, w if u is not None else 1.0, cond_name="prompt", uncond_name="negative_prompt")
