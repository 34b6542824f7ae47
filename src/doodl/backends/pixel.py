"""Pixel-space backend for diffusers' UNet2DModel, unconditional or class-conditional (the project's own models)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..guidance.cfg import cfg
from ..samplers.common import Denoiser
from .base import Backend


class PixelBackend(Backend):
    """UNet2DModel on images in [-1, 1], optionally padded (e.g. 28x28 Fashion-MNIST trained at 32x32).

    Args:
        unet: a built diffusers UNet2DModel predicting eps (or v with prediction_type="v_prediction").
        alphas_cumprod: its training schedule's alpha_bar.
        pad: pixels of padding (value -1, i.e. black) on each side; decode crops them away.
        num_classes: for a class-conditional UNet, the number of real classes; label `num_classes` is the
            null label learned with label dropout (classifier-free guidance, Ho & Salimans 2022).
    """

    def __init__(
        self,
        unet: torch.nn.Module,
        alphas_cumprod: Tensor,
        *,
        pad: int = 0,
        num_classes: int | None = None,
        prediction_type: str = "epsilon",
        final_alpha_cumprod: float | None = 1.0,
    ) -> None:
        self.unet = unet.eval().requires_grad_(False)
        self.alphas_cumprod = alphas_cumprod.to(torch.float64)
        self.final_alpha_cumprod = final_alpha_cumprod
        self.pad = pad
        self.num_classes = num_classes
        self.prediction_type = prediction_type
        c, s = unet.config.in_channels, unet.config.sample_size
        s = s if isinstance(s, int) else s[0]
        self.latent_shape = (c, s, s)
        self.image_shape = (c, s - 2 * pad, s - 2 * pad)
        p = next(unet.parameters())
        self.device, self.dtype = p.device, p.dtype

    def _eps(self, x: Tensor, t: int | Tensor, labels: Tensor | None) -> Tensor:
        out = self.unet(x.to(self.dtype), t, class_labels=labels).sample.to(x.dtype)
        if self.prediction_type == "v_prediction":
            from ..schedules import v_to_eps

            out = v_to_eps(out, x, self.alphas_cumprod[int(t)])
        return out

    def _labels(self, label: int | Tensor, batch: int) -> Tensor:
        labels = torch.as_tensor(label, device=self.device).long().reshape(-1)
        if labels.numel() == 1:
            labels = labels.expand(batch)
        if labels.numel() != batch:
            raise ValueError(f"class_label must be one label or one per image ({batch}), got {labels.numel()}")
        assert self.num_classes is not None
        if (labels < 0).any() or (labels > self.num_classes).any():
            raise ValueError(f"class_label must lie in [0, {self.num_classes - 1}] (or {self.num_classes} = null)")
        return labels

    def denoiser(self, *, class_label: int | Tensor | None = None, guidance_scale: float = 1.0, **extra: Any) -> Denoiser:
        """eps = model(x, t); with class_label on a conditional UNet, classifier-free guidance at guidance_scale."""
        if extra:
            raise ValueError(f"PixelBackend takes class_label and guidance_scale, got unknown {sorted(extra)}")
        if self.num_classes is None:
            if class_label is not None:
                raise ValueError("class_label given but this model is unconditional (num_classes=None)")
            return lambda x, t: self._eps(x, t, None)
        if class_label is None:  # the null label: the unconditional branch learned with label dropout
            return lambda x, t: self._eps(x, t, self._labels(self.num_classes, x.shape[0]))
        cond = lambda x, t: self._eps(x, t, self._labels(class_label, x.shape[0]))  # noqa: E731
        if guidance_scale == 1.0:
            return cond
        uncond = lambda x, t: self._eps(x, t, self._labels(self.num_classes, x.shape[0]))  # noqa: E731
        return cfg(cond, uncond, guidance_scale)

    def decode(self, latents: Tensor) -> Tensor:
        """Crop the padding and map [-1, 1] to [0, 1] (differentiable; clamped like the samplers' outputs)."""
        x = latents[..., self.pad : latents.shape[-2] - self.pad, self.pad : latents.shape[-1] - self.pad]
        return ((x + 1) / 2).clamp(0, 1)

    def encode(self, images: Tensor) -> Tensor:
        """Map [0, 1] to [-1, 1] and pad with -1 (black)."""
        self.check_images(images)
        x = images.to(self.device) * 2 - 1
        return F.pad(x, (self.pad,) * 4, value=-1.0) if self.pad else x
