"""The backend contract: a built diffusion model with its own schedule, bound to typed conditioning.

Every backend owns a `Schedule` (VPSchedule or FlowSchedule, doodl.schedules) and hands out its steps; the
samplers take those steps and nothing above backends/ reads schedule fields. `denoiser(cond)` binds a
`Conditioning` after checking it against `accepts`: an option the model cannot use is a ValueError naming it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Mapping

import torch
from torch import Tensor

from ..conditioning import Conditioning
from ..samplers.common import Denoiser
from ..schedules.steps import Schedule, Step


class Backend(ABC):
    """A diffusion model adapted to the sampler protocol out = model(x, t).

    Attributes every backend sets:
        schedule: its VPSchedule (out = eps) or FlowSchedule (out = velocity).
        latent_shape: (C, h, w) of the tensors the sampler runs on (the unpacked layout).
        image_shape: (C, H, W) of decoded images.
        device, dtype: where and in which dtype the network runs.
        accepts: the Conditioning field names this backend can use.
    """

    schedule: Schedule
    latent_shape: tuple[int, int, int]
    image_shape: tuple[int, int, int]
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32
    accepts: frozenset[str] = frozenset()

    name: str = "Backend"  # for messages; each subclass gets its class name unless it sets its own

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__

    @abstractmethod
    def denoiser(self, cond: Conditioning | None = None, **options: Any) -> Denoiser:
        """out = model(x, t) with the conditioning bound in: a Conditioning or its fields as keyword options,
        checked by self.conditioning first."""

    def conditioning(self, cond: Conditioning | None, options: Mapping[str, Any], name: str | None = None) -> Conditioning:
        """The Conditioning (built from keyword options when not given), checked against `accepts`."""
        if cond is None:
            cond = Conditioning.from_kwargs(**options)
        elif options:
            raise ValueError(f"{self.name}.denoiser takes a Conditioning or keyword options, not both")
        cond.check(self.accepts, name or self.name)
        return cond

    @abstractmethod
    def decode(self, latents: Tensor, *, range_pull: float = 0.0) -> Tensor:
        """Differentiable map from latents (B, *latent_shape) to images in [0, 1], (B, *image_shape); clamped, and
        with range_pull > 0 the clamp's gradient restores instead of vanishing (doodl.backends.ranges)."""

    @abstractmethod
    def encode(self, images: Tensor) -> Tensor:
        """Map images in [0, 1], (B, *image_shape), to clean latents x0 (B, *latent_shape)."""

    def steps(self, num_inference_steps: int) -> list[Step]:
        """The sampler's steps for a chain of num_inference_steps, noisiest first (the schedule's spacing)."""
        return self.schedule.steps(num_inference_steps)

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

    def check_latents(self, x: Tensor, name: str = "latents") -> Tensor:
        """Validate a finite floating-point (B, *latent_shape) batch; raise ValueError naming `name` and the shape."""
        want = f"(B, {', '.join(map(str, self.latent_shape))})"
        if not isinstance(x, Tensor) or x.ndim != len(self.latent_shape) + 1 or tuple(x.shape[1:]) != tuple(self.latent_shape):
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{name} must have shape {want}, got {shape}")
        if not x.is_floating_point() or not torch.isfinite(x).all():
            raise ValueError(f"{name} must be a finite floating-point tensor of shape {want}")
        return x
