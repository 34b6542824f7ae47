"""FLUX.1 dev and schnell as a doodl backend (Black Forest Labs 2024, rectified flow), through diffusers' FluxPipeline.

Latent layout: outside the backend (samplers, x_T, r.latents) latents are the VAE's unpacked (B, C, h, w)
with h = 2 * (H // (vae_scale * 2)); the transformer sees them packed into 2x2 patches, (B, h/2 * w/2, 4C),
with their positional ids, and its output is unpacked again: packing lives only in ``net``.

Schedule: a FlowSchedule from the scheduler config with base sigmas linspace(1, 1/n, n) and
mu = flux_mu(image_seq_len) (ignored unless the config sets use_dynamic_shifting, as on dev), which is what
FluxPipeline passes to its scheduler. The transformer gets timestep t / 1000 (t = sigma * 1000).

Guidance: FLUX.1-dev is guidance-distilled: its transformer takes a guidance embedding
(``transformer.config.guidance_embeds``) instead of running CFG. ``guidance_scale`` (the name FluxPipeline
uses for it) and ``guidance`` both set that embedding, default 3.5. FLUX.1-schnell has none: a guidance_scale
or guidance there is a ValueError. Neither model runs CFG here (FluxPipeline's true_cfg_scale is not offered).
Text: CLIP-L's pooled output and T5's tokens (512 by default), through the pipeline's own encode_prompt.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..conditioning import Conditioning
from ..samplers.common import Denoiser
from ..schedules import FlowSchedule, flux_mu
from ..guidance.cfg import check_guidance_scale, fit_batch
from .pipeline import PipelineBackend, check_size

DEFAULT_GUIDANCE = 3.5  # FluxPipeline's default guidance_scale (dev's guidance embedding)
MAX_SEQUENCE_LENGTH = 512  # T5 tokens, the pipeline's default
DEFAULT_SAMPLE_SIZE = 128  # FluxPipeline's default_sample_size (times the VAE scale factor: 1024 px), if the VAE has none


def pack(x: Tensor) -> Tensor:
    """(B, C, h, w) -> (B, h/2 * w/2, 4C): 2x2 patches as tokens, Flux's layout."""
    b, c, h, w = x.shape
    return x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // 2) * (w // 2), c * 4)


def unpack(tokens: Tensor, h: int, w: int) -> Tensor:
    """(B, h/2 * w/2, 4C) -> (B, C, h, w), the inverse of pack."""
    b, _, d = tokens.shape
    return tokens.view(b, h // 2, w // 2, d // 4, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, d // 4, h, w)


def image_ids(h: int, w: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """(h/2 * w/2, 3) positional ids (0, row, column) of the packed tokens, as FluxPipeline builds them."""
    ids = torch.zeros(h // 2, w // 2, 3)
    ids[..., 1] += torch.arange(h // 2)[:, None]
    ids[..., 2] += torch.arange(w // 2)[None, :]
    return ids.reshape(-1, 3).to(device=device, dtype=dtype)


class FluxBackend(PipelineBackend):
    """Flux latents (16, H/8, W/8) unpacked outside, packed for the transformer; out(x, t) is the velocity.

    Args:
        pipe: a built FluxPipeline (components shared).
        height, width: image size, multiples of 2 x the VAE scale factor; default the VAE's sample_size
            (FLUX.1's: 1024, FluxPipeline's default; the tiny test VAE's: 32).
        max_sequence_length: T5 tokens (512, as the pipeline).
        dtype, device: where the components run (default: the transformer's).
        vae_slicing, vae_tiling, gradient_checkpointing: memory options (see PipelineBackend).
    """

    pipeline_class = "FluxPipeline"
    name = "FluxBackend"

    def __init__(self, pipe: Any, *, height: int | None = None, width: int | None = None,
                 max_sequence_length: int = MAX_SEQUENCE_LENGTH, dtype: torch.dtype | str | None = None,
                 device: torch.device | str | None = None, **memory: bool) -> None:
        super().__init__(pipe, dtype=dtype, device=device, denoiser_module="transformer", **memory)
        self.transformer = pipe.transformer
        self.guidance_embeds = bool(self.transformer.config.guidance_embeds)
        self.name = "FluxBackend (dev: guidance embedding)" if self.guidance_embeds else "FluxBackend (schnell: no guidance)"
        fields = {"prompt", "prompt_embeds", "pooled_prompt_embeds"}
        self.family = "flow" if self.guidance_embeds else "flow-few-step"  # doodl.optimizer.defaults' families
        self.accepts = frozenset(fields | ({"guidance_scale", "guidance"} if self.guidance_embeds else set()))
        f = 2 ** (len(self.vae.config.block_out_channels) - 1)
        default = int(getattr(self.vae.config, "sample_size", None) or DEFAULT_SAMPLE_SIZE * f)
        self.height = check_size("height", default if height is None else height, 2 * f)
        self.width = check_size("width", default if width is None else width, 2 * f)
        if not isinstance(max_sequence_length, int) or isinstance(max_sequence_length, bool) or max_sequence_length < 1:
            raise ValueError(f"max_sequence_length must be a positive int, got {max_sequence_length!r}")
        self.max_sequence_length = max_sequence_length
        c = int(self.transformer.config.in_channels) // 4
        self.latent_shape = (c, self.height // f, self.width // f)
        self.image_shape = (int(self.vae.config.out_channels), self.height, self.width)
        sc = self.scheduler_config
        seq = (self.latent_shape[1] // 2) * (self.latent_shape[2] // 2)
        mu = flux_mu(seq, sc.get("base_image_seq_len", 256), sc.get("max_image_seq_len", 4096),
                     sc.get("base_shift", 0.5), sc.get("max_shift", 1.15))
        base = "timesteps" if sc.get("use_flow_sigmas") else "linspace"
        self.schedule = FlowSchedule.from_config(sc, mu=mu, base_sigmas=base)
        self._img_ids = image_ids(self.latent_shape[1], self.latent_shape[2], self.device, self.dtype)

    def check_latents(self, x: Tensor, name: str = "latents") -> Tensor:
        """As Backend.check_latents; the message says the layout is the unpacked one (pack happens inside)."""
        try:
            return super().check_latents(x, name)
        except ValueError as e:
            raise ValueError(f"{e} ({self.name} takes the unpacked (B, C, h, w) layout; it packs internally)") from None

    def check_guidance(self, cond: Conditioning) -> float | None:
        """The guidance embedding's value on dev (guidance_scale or guidance, default 3.5); None on schnell."""
        given = [k for k in ("guidance_scale", "guidance") if getattr(cond, k) is not None]
        if not self.guidance_embeds:
            if given:
                raise ValueError(f"{given[0]} is not supported by Flux-schnell: its transformer has no guidance "
                                 "embedding (transformer.config.guidance_embeds is False) and runs no CFG; drop "
                                 f"{given[0]}")
            return None
        if len(given) == 2 and cond.guidance_scale != cond.guidance:
            raise ValueError("give guidance_scale or guidance for Flux-dev, not both: both set its guidance embedding")
        return check_guidance_scale(getattr(cond, given[0]) if given else DEFAULT_GUIDANCE, given[0] if given else "guidance_scale")

    def encode_prompt(self, cond: Conditioning) -> dict[str, Tensor]:
        """T5 token embeddings, CLIP pooled embedding and text ids for the prompt(s)."""
        prompt, _ = self.prompts(cond)
        pe = self.embeds(cond.prompt_embeds, "prompt_embeds", 3, int(self.transformer.config.joint_attention_dim))
        pooled = self.embeds(cond.pooled_prompt_embeds, "pooled_prompt_embeds", 2,
                             int(self.transformer.config.pooled_projection_dim))
        if (pe is None) != (pooled is None):
            raise ValueError("prompt_embeds and pooled_prompt_embeds go together for Flux; give both or neither")
        if pe is None:
            self.need("tokenizer", "text_encoder", "tokenizer_2", "text_encoder_2")

        def build() -> dict[str, Any]:
            e, p, _ = self.pipe.encode_prompt(prompt=prompt, prompt_2=None, device=self.device, num_images_per_prompt=1,
                                              prompt_embeds=pe, pooled_prompt_embeds=pooled,
                                              max_sequence_length=self.max_sequence_length)
            return {"emb": e, "pooled": p}

        e = build() if pe is not None else self.cached(("flux", tuple(prompt or ()), self.max_sequence_length), build)
        txt_ids = torch.zeros(e["emb"].shape[1], 3, device=self.device, dtype=self.dtype)
        return {"emb": e["emb"].to(self.dtype), "pooled": e["pooled"].to(self.dtype), "txt_ids": txt_ids}

    def net(self, x: Tensor, t: int | float | Tensor, ctx: dict[str, Tensor], guidance: float | None) -> Tensor:
        """One transformer call on the packed latents at timestep t / 1000; the velocity unpacked, in x's dtype."""
        b, _, h, w = x.shape
        tt = t.expand(b) if isinstance(t, Tensor) else torch.full((b,), float(t), device=x.device)
        g = None if guidance is None else torch.full((b,), guidance, device=x.device, dtype=torch.float32)
        out = self.transformer(hidden_states=pack(x.to(self.dtype)), timestep=tt.to(self.dtype) / 1000, guidance=g,
                               pooled_projections=fit_batch(ctx["pooled"], b, "prompt"),
                               encoder_hidden_states=fit_batch(ctx["emb"], b, "prompt"), txt_ids=ctx["txt_ids"],
                               img_ids=self._img_ids, return_dict=False)[0]
        return unpack(out, h, w).to(x.dtype)

    def denoiser(self, cond: Conditioning | None = None, **options: Any) -> Denoiser:
        """v = model(x, t) for the prompt(s) on the unpacked layout; dev's guidance embedding bound in."""
        cond = self.conditioning_flux(cond, options)
        guidance = self.check_guidance(cond)
        ctx = self.encode_prompt(cond)

        def model(x: Tensor, t: int | float | Tensor) -> Tensor:
            return self.net(self.check_latents(x, "x"), t, ctx, guidance)

        return model

    def conditioning_flux(self, cond: Conditioning | None, options: dict[str, Any]) -> Conditioning:
        """As PipelineBackend.conditioning, but schnell's guidance options get their own message first."""
        if cond is None:
            cond = Conditioning.from_kwargs(**options)
            options = {}
        if not self.guidance_embeds:
            self.check_guidance(cond)
        return self.conditioning(cond, options)
