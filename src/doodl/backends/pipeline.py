"""Shared pieces of the diffusers-pipeline backends (SDXL, SD3, Flux): placement, VAE, prompts and checks.

A pipeline backend wraps a built diffusers pipeline: it keeps the pipeline's components (moved to the
backend's device and dtype, frozen) and calls the pipeline's own ``encode_prompt`` for text embeddings, so
prompts embed exactly as diffusers embeds them. The denoiser, the latent layout and the schedule are the
backend's own (see sdxl.py, sd3.py, flux.py).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import torch
from torch import Tensor

from ..conditioning import Conditioning
from ..samplers.common import Denoiser
from .ranges import restoring_clamp
from .base import Backend
from .sd import as_dtype, as_prompts

log = logging.getLogger(__name__)

EMBED_CACHE_SIZE = 8  # prompt pairs whose embeddings are kept (a CLI batch reuses a handful)


def check_size(name: str, value: Any, multiple: int) -> int:
    """A positive int divisible by `multiple` (the latent grid's pixel size), else a ValueError naming it."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or value % multiple:
        raise ValueError(f"{name} must be a positive multiple of {multiple} (VAE scale factor x patch size), got {value!r}")
    return value


class PipelineBackend(Backend):
    """Base of the diffusers-pipeline backends: placement, VAE decode/encode, prompt embedding cache, checks.

    Subclasses set `pipeline_class`, `required` (components the pipeline cannot run without), build
    `schedule`, `latent_shape` and `image_shape`, and implement `denoiser`.
    """

    pipeline_class: str = ""
    required: tuple[str, ...] = ("vae", "scheduler")
    name: str = "PipelineBackend"
    accepts: frozenset[str] = frozenset()

    def __init__(self, pipe: Any, *, dtype: torch.dtype | str | None = None, device: torch.device | str | None = None,
                 denoiser_module: str = "transformer", vae_slicing: bool = False, vae_tiling: bool = False,
                 gradient_checkpointing: bool = False) -> None:
        missing = [k for k in (denoiser_module, *self.required) if getattr(pipe, k, None) is None]
        if missing:
            raise ValueError(f"{type(pipe).__name__} lacks {', '.join(missing)}; {self.name} needs "
                             f"{', '.join((denoiser_module, *self.required))}")
        dtype = as_dtype(dtype)
        net = getattr(pipe, denoiser_module)
        p = next(net.parameters())
        self.device = torch.device(device) if device is not None else p.device
        self.dtype = dtype if dtype is not None else p.dtype
        self.pipe = pipe
        for k, module in pipe.components.items():
            if isinstance(module, torch.nn.Module):
                setattr(pipe, k, self._place(module, self._vae_dtype() if k == "vae" else self.dtype))
        self.vae = pipe.vae
        if vae_slicing:  # one image at a time through the VAE
            self.vae.enable_slicing()
        if vae_tiling:
            self.vae.enable_tiling()
        if gradient_checkpointing:  # recompute the network's blocks in each EDICT step's backward pass
            getattr(pipe, denoiser_module).enable_gradient_checkpointing()
        self.scheduler_config: dict[str, Any] = dict(pipe.scheduler.config)
        self._embed_cache: dict[tuple, dict[str, Any]] = {}

    def _vae_dtype(self) -> torch.dtype:
        """float32 for a float16 VAE whose config says force_upcast (SDXL's VAE overflows in fp16), else the dtype."""
        if self.dtype == torch.float16 and getattr(self.pipe.vae.config, "force_upcast", False):
            return torch.float32
        return self.dtype

    def _place(self, module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
        """Frozen, in eval mode, on the backend's device in `dtype` (moved only when needed)."""
        p = next(module.parameters(), None)
        if p is not None and (p.device != self.device or p.dtype != dtype):
            module = module.to(device=self.device, dtype=dtype)
        return module.eval().requires_grad_(False)

    # ---- conditioning ----
    def need(self, *components: str, why: str = "to embed a prompt") -> None:
        """Raise a ValueError naming the pipeline components that are missing (None) for `why`."""
        missing = [k for k in components if getattr(self.pipe, k, None) is None]
        if missing:
            raise ValueError(f"{self.name} needs {', '.join(missing)} {why}, but the pipeline has none; "
                             "load a pipeline with them or pass prompt_embeds and pooled_prompt_embeds")

    def cached(self, key: tuple, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """build() run without grad and kept under `key` (only string prompts are cached)."""
        if key not in self._embed_cache:
            with torch.no_grad():
                value = build()
            if len(self._embed_cache) >= EMBED_CACHE_SIZE:
                self._embed_cache.pop(next(iter(self._embed_cache)))
            self._embed_cache[key] = value
        return self._embed_cache[key]

    def embeds(self, value: Any, name: str, ndim: int, width: int | None) -> Tensor | None:
        """A precomputed embedding tensor of `ndim` dims whose last is `width`, on the device; ValueError otherwise."""
        if value is None:
            return None
        if not isinstance(value, Tensor) or value.ndim != ndim or (width is not None and value.shape[-1] != width):
            got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            want = "(P, L, D)" if ndim == 3 else "(P, D)"
            raise ValueError(f"{name} must be a {want} tensor with D = {width} for {self.name}, got {got}")
        return value.to(self.device)

    @staticmethod
    def prompts(cond: Conditioning) -> tuple[list[str] | None, list[str] | None]:
        """(prompt list or None, negative prompt list or None); an empty prompt when neither text nor embeds is given."""
        prompt = cond.prompt if cond.prompt is not None else (None if cond.prompt_embeds is not None else "")
        p = as_prompts(prompt) if prompt is not None else None
        n = as_prompts(cond.negative_prompt, "negative_prompt") if cond.negative_prompt is not None else None
        if p is not None and n is not None and len(n) not in (1, len(p)):
            raise ValueError(f"negative_prompt has {len(n)} entries; give one or one per prompt ({len(p)})")
        if p is not None and n is not None and len(n) == 1 and len(p) > 1:
            n = n * len(p)
        return p, n

    # ---- VAE ----
    def _latent_stats(self, like: Tensor) -> tuple[Tensor | float, Tensor | float, float]:
        c = self.vae.config
        mean, std = getattr(c, "latents_mean", None), getattr(c, "latents_std", None)
        if mean is not None and std is not None:
            view = (1, len(mean), 1, 1)
            return (torch.tensor(mean).view(view).to(like), torch.tensor(std).view(view).to(like), float(c.scaling_factor))
        return float(getattr(c, "shift_factor", None) or 0.0), 1.0, float(c.scaling_factor)

    def vae_latents(self, latents: Tensor) -> Tensor:
        """(B, C, h, w) backend latents -> the VAE's (B, C, h, w) latents (unscaled, unshifted)."""
        return latents

    def decode(self, latents: Tensor, *, range_pull: float = 0.0) -> Tensor:
        """Differentiable VAE decode to images in [0, 1] (clamped, range_pull: doodl.backends.ranges), float32:
        z = x std / scaling + mean (or shift)."""
        self.check_latents(latents)
        vdt = next(self.vae.parameters()).dtype
        x = self.vae_latents(latents.to(self.device)).to(vdt)
        mean, std, scale = self._latent_stats(x)
        images = self.vae.decode(x * std / scale + mean).sample
        return restoring_clamp((images.float() + 1) / 2, pull=range_pull)

    def encode(self, images: Tensor) -> Tensor:
        """VAE posterior mean, scaled and shifted as decode inverts: images in [0, 1] -> clean latents, float32."""
        self.check_images(images)
        vdt = next(self.vae.parameters()).dtype
        z = self.vae.encode(images.to(self.device, vdt) * 2 - 1).latent_dist.mean
        mean, std, scale = self._latent_stats(z)
        return ((z - mean) * scale / std).float()

    def denoiser(self, cond: Conditioning | None = None, **options: Any) -> Denoiser:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def from_pipeline(cls, pipe: Any, **options: Any) -> "PipelineBackend":
        """Adapt a built pipeline of `pipeline_class` (its components are shared, moved, not copied)."""
        return cls(pipe, **options)

    @classmethod
    def from_pretrained(cls, name_or_path: str, *, dtype: torch.dtype | str | None = None,
                        device: torch.device | str | None = None, variant: str | None = None,
                        revision: str | None = None, **options: Any) -> "PipelineBackend":
        """Load a hub id or save_pretrained folder with `pipeline_class`.from_pretrained, then adapt it."""
        dtype = as_dtype(dtype)
        pipe = load_pipeline(cls.pipeline_class, name_or_path, dtype=dtype, variant=variant, revision=revision)
        return cls(pipe, dtype=dtype, device=device, **options)


def load_pipeline(cls_name: str, name_or_path: str, *, dtype: torch.dtype | None, variant: str | None,
                  revision: str | None, **kwargs: Any) -> Any:
    """diffusers' `cls_name`.from_pretrained(name_or_path) with the dtype, variant and revision (errors from loading.py)."""
    import diffusers

    cls = getattr(diffusers, cls_name)
    torch_dtype = {"torch_dtype": dtype} if dtype is not None else {}
    pipe = cls.from_pretrained(name_or_path, variant=variant, revision=revision, **torch_dtype, **kwargs)
    pipe.set_progress_bar_config(disable=True)
    return pipe
