"""Stable Diffusion 1.x / 2.x as a doodl backend (latent diffusion, Rombach et al. 2022), through diffusers.

The backend adapts built components (UNet2DConditionModel, AutoencoderKL, CLIP text encoder and tokenizer,
and the scheduler's config values) to the sampler protocol eps = model(x, t); loading by hub id or folder is
the separate step ``from_pretrained`` (or ``doodl.load_backend``). Epsilon and v-prediction (SD 2.x 768)
models are both supported; v is converted to eps in ``_eps``, the one place where that happens.

Gradients: ``decode`` is differentiable, so a loss on the images reaches x_T through EDICT (DOODL's point).
The text encoder runs without grad and its embeddings are cached; to optimise prompt embeddings, pass
``prompt_embeds`` that require grad to ``denoiser`` and the same tensor to ``edict_sample(params=[...])``
in "reversible" mode ("checkpoint" and "naive" find it through autograd on their own).

Memory: diffusers runs attention with torch 2's scaled_dot_product_attention (SDPA) by default, which
already avoids the quadratic attention buffer; ``attention_slicing`` swaps it for a sliced processor and is
only worth it on old GPUs. ``vae_slicing`` decodes one image at a time (cheap, helps with several seeds);
``vae_tiling`` decodes in tiles (large images); ``gradient_checkpointing`` recomputes UNet blocks in the
backward pass of each EDICT step; ``channels_last`` may speed convolutions on CUDA.

Schedule: a VPSchedule from the scheduler config (betas, set_alpha_to_one, steps_offset and timestep_spacing,
all honoured as diffusers' DDIMScheduler honours them); ``backend.steps(n)`` gives the sampler's steps.

SDXL is not handled by this class (StableDiffusionXLBackend in sdxl.py is): its UNet also takes pooled
embeddings from a second text encoder and "added time ids"; ``from_pipeline`` and ``from_pretrained`` raise
a ValueError saying so rather than running it wrongly. ``doodl.load_backend`` picks the right class.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import torch
from torch import Tensor

from ..conditioning import Conditioning
from ..guidance.cfg import batched_cfg, check_guidance_scale
from ..samplers.common import Denoiser
from ..schedules import VPSchedule, alphas_cumprod_from_betas, linear_betas, scaled_linear_betas, v_to_eps
from .ranges import restoring_clamp
from .base import Backend
from .files import SDXL_MESSAGE, load_sd_components

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
          "half": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float64": torch.float64}
EMBED_CACHE_SIZE = 32  # prompts whose embeddings are kept (a CLI batch reuses a handful)
# Stable Diffusion 1.x/2.x scheduler_config.json values (v-prediction models add prediction_type="v_prediction")
SD_SCHEDULER_CONFIG: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "steps_offset": 1,
    "set_alpha_to_one": False,
    "clip_sample": False,
    "prediction_type": "epsilon",
}


def as_dtype(dtype: torch.dtype | str | None, name: str = "dtype") -> torch.dtype | None:
    """A torch dtype from a dtype or its name ('float16', 'fp16', 'bfloat16', 'float32', 'float64')."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype.lower().removeprefix("torch.") in DTYPES:
        return DTYPES[dtype.lower().removeprefix("torch.")]
    raise ValueError(f"{name} must be one of {sorted(DTYPES)} or a torch.dtype, got {dtype!r}")


DEFAULT_GUIDANCE_SCALE = 7.5  # Stable Diffusion's and the DOODL code's CFG scale


def sd_alphas_cumprod(config: Mapping[str, Any]) -> Tensor:
    """alpha_bar (float64) from a diffusers scheduler config: trained_betas, scaled_linear (SD) or linear."""
    n = int(config.get("num_train_timesteps", 1000))
    if config.get("rescale_betas_zero_snr"):
        raise ValueError("scheduler config has rescale_betas_zero_snr=True: zero terminal SNR is not supported "
                         "(DDIM/EDICT coefficients divide by alpha_bar_T = 0)")
    if config.get("trained_betas") is not None:
        return alphas_cumprod_from_betas(torch.as_tensor(config["trained_betas"], dtype=torch.float64))
    kind = config.get("beta_schedule", "scaled_linear")
    start, end = float(config.get("beta_start", 0.00085)), float(config.get("beta_end", 0.012))
    if kind == "scaled_linear":
        return alphas_cumprod_from_betas(scaled_linear_betas(n, start, end))
    if kind == "linear":
        return alphas_cumprod_from_betas(linear_betas(n, start, end))
    raise ValueError(f"scheduler beta_schedule must be 'scaled_linear' or 'linear', got {kind!r}")


def sd_schedule(config: Mapping[str, Any]) -> VPSchedule:
    """The VPSchedule of a DDIMScheduler config: alpha_bar, set_alpha_to_one, steps_offset, timestep_spacing."""
    spacing = config.get("timestep_spacing", "leading")
    if spacing not in ("leading", "trailing", "linspace"):
        raise ValueError(f"scheduler timestep_spacing must be 'leading', 'trailing' or 'linspace', got {spacing!r}")
    final = 1.0 if config.get("set_alpha_to_one", False) else None
    return VPSchedule(sd_alphas_cumprod(config), final, int(config.get("steps_offset", 0)), spacing)


def as_prompts(prompt: Any, name: str = "prompt") -> list[str]:
    """A non-empty list of strings from a string or a list/tuple of strings; ValueError naming `name` otherwise."""
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, (list, tuple)) and prompt and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    if isinstance(prompt, (list, tuple)) and not prompt:
        raise ValueError(f"{name} must not be an empty list")
    raise ValueError(f"{name} must be a string or a list of strings, got {type(prompt).__name__}")


class StableDiffusionBackend(Backend):
    """SD 1.x / 2.x latents (4, H/8, W/8) with CLIP-text conditioning and classifier-free guidance.

    Conditioning it takes (``accepts``): prompt, negative_prompt, guidance_scale, prompt_embeds,
    negative_prompt_embeds.

    Args:
        unet: a built UNet2DConditionModel predicting eps or v.
        vae: a built AutoencoderKL (its scaling_factor and block count give the latent scale).
        text_encoder: a built CLIPTextModel (SD 1.x: CLIP ViT-L/14; SD 2.x: OpenCLIP ViT-H/14).
        tokenizer: its CLIPTokenizer (model_max_length 77).
        scheduler_config: the scheduler's config (beta schedule, prediction_type, steps_offset,
            set_alpha_to_one, timestep_spacing); default: SD's own values with epsilon prediction.
        height, width: image size in pixels; default unet.config.sample_size times the VAE's scale factor.
        dtype, device: move every component there (default: where the UNet already is).
        attention_slicing, vae_slicing, vae_tiling, gradient_checkpointing, channels_last: memory and speed
            options, see the module docstring.
    """

    def __init__(
        self,
        unet: torch.nn.Module,
        vae: torch.nn.Module,
        text_encoder: torch.nn.Module,
        tokenizer: Any,
        scheduler_config: Mapping[str, Any] | None = None,
        *,
        height: int | None = None,
        width: int | None = None,
        dtype: torch.dtype | str | None = None,
        device: torch.device | str | None = None,
        attention_slicing: str | int | None = None,
        vae_slicing: bool = False,
        vae_tiling: bool = False,
        gradient_checkpointing: bool = False,
        channels_last: bool = False,
    ) -> None:
        dtype = as_dtype(dtype)
        p = next(unet.parameters())
        self.device = torch.device(device) if device is not None else p.device
        self.dtype = dtype if dtype is not None else p.dtype
        self.unet, self.vae, self.text_encoder = (self._place(m) for m in (unet, vae, text_encoder))
        self.tokenizer = tokenizer
        self.accepts = frozenset({"prompt", "negative_prompt", "guidance_scale", "prompt_embeds", "negative_prompt_embeds"})
        config = dict(scheduler_config if scheduler_config is not None else SD_SCHEDULER_CONFIG)
        self.schedule: VPSchedule = sd_schedule(config)
        self.prediction_type = config.get("prediction_type", "epsilon")
        if self.prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"prediction_type must be 'epsilon' or 'v_prediction', got {self.prediction_type!r}")
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.scaling_factor = float(vae.config.scaling_factor)
        self.shift_factor = float(getattr(vae.config, "shift_factor", None) or 0.0)
        size = unet.config.sample_size
        size = size if isinstance(size, int) else size[0]
        height = size * self.vae_scale_factor if height is None else height
        width = size * self.vae_scale_factor if width is None else width
        for name, v in (("height", height), ("width", width)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0 or v % self.vae_scale_factor:
                raise ValueError(f"{name} must be a positive multiple of {self.vae_scale_factor} (the VAE's scale factor), got {v!r}")
        f = self.vae_scale_factor
        self.latent_shape = (int(unet.config.in_channels), height // f, width // f)
        self.image_shape = (int(vae.config.out_channels), height, width)
        self.cross_attention_dim = int(unet.config.cross_attention_dim)
        self._embed_cache: dict[tuple[str, ...], Tensor] = {}
        self.enable_slicing(attention_slicing, vae_slicing)
        if vae_tiling:
            self.vae.enable_tiling()
        if gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()
        if channels_last:
            self.unet.to(memory_format=torch.channels_last)

    def _place(self, module: torch.nn.Module) -> torch.nn.Module:
        """Frozen, in eval mode, on the backend's device and dtype (moved only when needed)."""
        p = next(module.parameters())
        if p.device != self.device or p.dtype != self.dtype:
            module = module.to(device=self.device, dtype=self.dtype)
        return module.eval().requires_grad_(False)

    @classmethod
    def from_pipeline(cls, pipe: Any, **options: Any) -> "StableDiffusionBackend":
        """Adapt a built diffusers StableDiffusionPipeline; its components are shared (moved, not copied)."""
        if getattr(pipe, "text_encoder_2", None) is not None or "XL" in type(pipe).__name__:
            raise ValueError(SDXL_MESSAGE)
        missing = [k for k in ("unet", "vae", "text_encoder", "tokenizer", "scheduler") if getattr(pipe, k, None) is None]
        if missing:
            raise ValueError(f"pipeline lacks component(s) {missing}; a Stable Diffusion pipeline has all five")
        return cls(pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer, dict(pipe.scheduler.config), **options)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        *,
        dtype: torch.dtype | str | None = None,
        device: torch.device | str | None = None,
        variant: str | None = None,
        revision: str | None = None,
        **options: Any,
    ) -> "StableDiffusionBackend":
        """Load from a hub id (needs network or the HF cache) or a save_pretrained folder; clear error if absent."""
        dtype = as_dtype(dtype)
        parts = load_sd_components(name_or_path, dtype=dtype, variant=variant, revision=revision)
        return cls(**parts, dtype=dtype, device=device, **options)

    def enable_slicing(self, attention: str | int | None = "auto", vae: bool = True) -> None:
        """Sliced attention (None keeps SDPA) and one-image-at-a-time VAE decoding, to cut peak memory."""
        if attention is not None:
            self.unet.set_attention_slice(attention)
        if vae:
            self.vae.enable_slicing()

    def embed_prompt(self, prompt: str | list[str]) -> Tensor:
        """CLIP text embeddings (P, 77, D) of the prompts, no grad, cached; the UNet's cross-attention context."""
        prompts = as_prompts(prompt)
        key = tuple(prompts)
        if key not in self._embed_cache:
            tok = self.tokenizer(prompts, padding="max_length", max_length=self.tokenizer.model_max_length,
                                 truncation=True, return_tensors="pt")
            if any(len(ids) > self.tokenizer.model_max_length for ids in self.tokenizer(prompts).input_ids):
                log.warning("prompt truncated to %d tokens", self.tokenizer.model_max_length)
            mask = tok.attention_mask.to(self.device) if getattr(self.text_encoder.config, "use_attention_mask", False) else None
            with torch.no_grad():
                emb = self.text_encoder(tok.input_ids.to(self.device), attention_mask=mask)[0]
            if len(self._embed_cache) >= EMBED_CACHE_SIZE:
                self._embed_cache.pop(next(iter(self._embed_cache)))
            self._embed_cache[key] = emb.to(self.dtype)
        return self._embed_cache[key]

    def _check_embeds(self, embeds: Any, name: str) -> Tensor:
        if not isinstance(embeds, Tensor) or embeds.ndim != 3 or embeds.shape[-1] != self.cross_attention_dim:
            shape = tuple(embeds.shape) if isinstance(embeds, Tensor) else type(embeds).__name__
            raise ValueError(f"{name} must be a (P, L, {self.cross_attention_dim}) tensor, got {shape}")
        return embeds.to(self.device)

    def _eps(self, x: Tensor, t: int | Tensor, context: Tensor) -> Tensor:
        """One UNet call in the backend dtype; v-prediction becomes eps here (Salimans & Ho 2022)."""
        # t as a 0-dim device tensor made by a fill kernel: no host-to-device copy, and torch.compile sees one
        # graph for every t instead of specialising on each Python int
        tt = t if isinstance(t, Tensor) else torch.full((), int(t), device=x.device, dtype=torch.long)
        out = self.unet(x.to(self.dtype), tt, encoder_hidden_states=context.to(self.dtype)).sample.to(x.dtype)
        if self.prediction_type == "v_prediction":
            out = v_to_eps(out, x, self.schedule.alphas_cumprod[int(t)])
        return out

    def denoiser(self, cond: Conditioning | None = None, **options: Any) -> Denoiser:
        """eps = model(x, t) for the prompt(s), with classifier-free guidance (Ho & Salimans 2022, eq. 6).

        Both CFG branches run in one batched UNet call (batched_cfg); guidance_scale 1 runs the conditional
        branch only (None: 7.5, the SD and DOODL code's default). No prompt is the empty prompt. A prompt list
        has one entry, or one per image in x.
        """
        cond = self.conditioning(cond, options)
        w = check_guidance_scale(DEFAULT_GUIDANCE_SCALE if cond.guidance_scale is None else cond.guidance_scale)
        if cond.prompt_embeds is not None:
            if cond.prompt is not None:
                raise ValueError("give prompt or prompt_embeds, not both")
            ctx = self._check_embeds(cond.prompt_embeds, "prompt_embeds")
        else:
            ctx = self.embed_prompt(cond.prompt if cond.prompt is not None else "")
        uncond = None
        if w != 1.0:
            if cond.negative_prompt_embeds is not None:
                if cond.negative_prompt is not None:
                    raise ValueError("give negative_prompt or negative_prompt_embeds, not both")
                uncond = self._check_embeds(cond.negative_prompt_embeds, "negative_prompt_embeds")
            else:
                neg = cond.negative_prompt if cond.negative_prompt is not None else ""
                uncond = self.embed_prompt(as_prompts(neg, "negative_prompt"))
        return batched_cfg(self._eps, ctx, uncond, w, cond_name="prompt", uncond_name="negative_prompt")

    def decode(self, latents: Tensor, *, range_pull: float = 0.0) -> Tensor:
        """Differentiable VAE decode of latents / scaling_factor to images in [0, 1] (clamped, range_pull:
        doodl.backends.ranges), float32."""
        if not isinstance(latents, Tensor) or latents.ndim != 4 or tuple(latents.shape[1:]) != self.latent_shape:
            shape = tuple(latents.shape) if isinstance(latents, Tensor) else type(latents).__name__
            raise ValueError(f"latents must have shape (B, {', '.join(map(str, self.latent_shape))}), got {shape}")
        z = latents.to(self.device) / self.scaling_factor + self.shift_factor
        images = self.vae.decode(z.to(self.dtype)).sample
        return restoring_clamp((images.float() + 1) / 2, pull=range_pull)

    def encode(self, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """Images in [0, 1] -> clean latents (float32): the VAE posterior's mean, or a seeded sample from it.

        Args:
            images: (B, 3, H, W) in [0, 1].
            generator: None (default) returns the posterior mean, deterministic; a CPU torch.Generator returns
                mean + std * N(0, I) with the noise drawn from it, a sample as the EDICT authors' code encodes
                (``latent_dist.sample(generator)``), reproducible from the generator's seed.
        """
        self.check_images(images)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        x = images.to(self.device, self.dtype) * 2 - 1
        dist = self.vae.encode(x).latent_dist
        z = dist.mean
        if generator is not None:  # noise drawn on the generator's device (CPU) so a seed gives the same sample anywhere
            noise = torch.randn(z.shape, generator=generator, device=generator.device, dtype=torch.float32)
            z = z.float() + dist.std.float() * noise.to(z.device)
        return ((z.float() - self.shift_factor) * self.scaling_factor)
