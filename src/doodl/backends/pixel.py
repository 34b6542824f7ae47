"""Pixel-space backend for diffusers' UNet2DModel, unconditional or class-conditional (the project's own models)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..conditioning import Conditioning
from ..guidance.cfg import batched_cfg, check_guidance_scale
from ..samplers.common import Denoiser
from ..schedules import VPSchedule, v_to_eps
from .base import Backend
from .ranges import restoring_clamp


class PixelBackend(Backend):
    """UNet2DModel on images in [-1, 1], optionally padded (e.g. 28x28 Fashion-MNIST trained at 32x32).

    Args:
        unet: a built diffusers UNet2DModel predicting eps (or v with prediction_type="v_prediction").
        schedule: its training schedule: a VPSchedule, or the alpha_bar tensor (DDIM "leading" spacing).
        pad: pixels of padding (value -1, i.e. black) on each side; decode crops them away.
        num_classes: for a class-conditional UNet, the number of real classes; label `num_classes` is the
            null label learned with label dropout (classifier-free guidance, Ho & Salimans 2022).
        final_alpha_cumprod: alpha_bar after the last step when `schedule` is a tensor.

    Conditioning: an unconditional model takes none; a class-conditional one takes class_label and
    guidance_scale (CFG toward the label; no label is the null label, where a scale has nothing to guide).
    """

    def __init__(
        self,
        unet: torch.nn.Module,
        schedule: VPSchedule | Tensor,
        *,
        pad: int = 0,
        num_classes: int | None = None,
        prediction_type: str = "epsilon",
        final_alpha_cumprod: float | None = 1.0,
    ) -> None:
        self.unet = unet.eval().requires_grad_(False)
        self.schedule = schedule if isinstance(schedule, VPSchedule) else VPSchedule(schedule, final_alpha_cumprod)
        if prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"prediction_type must be 'epsilon' or 'v_prediction', got {prediction_type!r}")
        self.pad = pad
        self.num_classes = num_classes
        self.prediction_type = prediction_type
        self.accepts = frozenset() if num_classes is None else frozenset({"class_label", "guidance_scale"})
        c, s = unet.config.in_channels, unet.config.sample_size
        s = s if isinstance(s, int) else s[0]
        self.latent_shape = (c, s, s)
        self.image_shape = (c, s - 2 * pad, s - 2 * pad)
        p = next(unet.parameters())
        self.device, self.dtype = p.device, p.dtype

    def _eps(self, x: Tensor, t: int | Tensor, labels: Tensor | None) -> Tensor:
        """One UNet call; v-prediction becomes eps here (doodl.schedules.v_to_eps, Salimans & Ho 2022)."""
        out = self.unet(x.to(self.dtype), t, class_labels=labels).sample.to(x.dtype)
        if self.prediction_type == "v_prediction":
            out = v_to_eps(out, x, self.schedule.alphas_cumprod[int(t)])
        return out

    def _labels(self, label: int | Tensor) -> Tensor:
        labels = torch.as_tensor(label, device=self.device).long().reshape(-1)
        assert self.num_classes is not None
        if (labels < 0).any() or (labels > self.num_classes).any():
            raise ValueError(f"class_label must lie in [0, {self.num_classes - 1}] (or {self.num_classes} = null)")
        return labels

    def denoiser(self, cond: Conditioning | None = None, **options: Any) -> Denoiser:
        """eps = model(x, t); with class_label on a conditional UNet, classifier-free guidance at guidance_scale."""
        cond = self.conditioning(cond, options, self.name + (" (unconditional)" if self.num_classes is None else ""))
        if self.num_classes is None:
            return lambda x, t: self._eps(x, t, None)
        w = 1.0 if cond.guidance_scale is None else check_guidance_scale(cond.guidance_scale)
        null = self._labels(self.num_classes)
        if cond.class_label is None:  # the null label: the unconditional branch learned with label dropout
            if w != 1.0:
                raise ValueError(f"guidance_scale={w:g} needs a class_label to guide toward ({self.name})")
            return batched_cfg(self._eps, null, None, 1.0)
        labels = self._labels(cond.class_label)
        return batched_cfg(self._eps, labels, null, float(w), cond_name="class_label", uncond_name="null label")

    def decode(self, latents: Tensor, *, range_pull: float = 0.0) -> Tensor:
        """Crop the padding and map [-1, 1] to [0, 1], clamped (range_pull: doodl.backends.ranges)."""
        x = latents[..., self.pad : latents.shape[-2] - self.pad, self.pad : latents.shape[-1] - self.pad]
        return restoring_clamp((x + 1) / 2, pull=range_pull)

    def encode(self, images: Tensor) -> Tensor:
        """Map [0, 1] to [-1, 1] and pad with -1 (black)."""
        self.check_images(images)
        x = images.to(self.device) * 2 - 1
        return F.pad(x, (self.pad,) * 4, value=-1.0) if self.pad else x
