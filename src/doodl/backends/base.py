"""The backend contract: a built diffusion model adapted to eps = model(x, t), plus decode/encode."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

from ..samplers.common import Denoiser
from ..schedules import ddim_timesteps


class Backend(ABC):
    """A diffusion model adapted to the sampler protocol.

    Attributes every backend sets:
        alphas_cumprod: float64 1-D tensor of alpha_bar indexed by training timestep.
        final_alpha_cumprod: alpha_bar after the last step (1.0 or None for alphas_cumprod[0], as in make_steps).
        latent_shape: (C, H, W) of the tensors the sampler runs on.
        image_shape: (C, H, W) of decoded images.
        device, dtype: where and in which dtype the network runs.
        steps_offset: DDIM timestep offset (SD: 1).
    """

    alphas_cumprod: Tensor
    final_alpha_cumprod: float | None = 1.0
    latent_shape: tuple[int, int, int]
    image_shape: tuple[int, int, int]
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32
    steps_offset: int = 0

    @abstractmethod
    def denoiser(self, **conditioning: Any) -> Denoiser:
        """eps = model(x, t) with the conditioning (prompt, class label, CFG scale, ...) bound in."""

    @abstractmethod
    def decode(self, latents: Tensor) -> Tensor:
        """Differentiable map from latents (B, *latent_shape) to images in [0, 1], (B, *image_shape)."""

    @abstractmethod
    def encode(self, images: Tensor) -> Tensor:
        """Map images in [0, 1], (B, *image_shape), to clean latents x0 (B, *latent_shape)."""

    def timesteps(self, num_inference_steps: int) -> list[int]:
        """Descending DDIM timesteps for this model (leading spacing, diffusers' DDIMScheduler)."""
        return ddim_timesteps(num_inference_steps, self.alphas_cumprod.numel(), self.steps_offset)

    def noise(self, batch: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Tensor:
        """Initial latents x_T ~ N(0, I) of shape (batch, *latent_shape), drawn on CPU for reproducibility."""
        x = torch.randn((batch, *self.latent_shape), generator=generator, dtype=torch.float32)
        return x.to(device=self.device, dtype=dtype)

    def check_images(self, images: Tensor, name: str = "images") -> Tensor:
        """Validate a (B, C, H, W) batch in [0, 1] that matches image_shape; raise ValueError naming `name`."""
        if not isinstance(images, Tensor) or images.ndim != 4:
            raise ValueError(f"{name} must be a (B, C, H, W) tensor, got shape {getattr(images, 'shape', None)}")
        if tuple(images.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"{name} must have shape (B, {', '.join(map(str, self.image_shape))}), got {tuple(images.shape)}")
        if not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
            raise ValueError(f"{name} must be finite and lie in [0, 1]")
        return images
