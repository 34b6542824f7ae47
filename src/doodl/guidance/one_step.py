"""One-step classifier guidance: the loss gradient on the one-step estimate of x0 (DOODL §3.2.1, option 2)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..samplers.common import Denoiser
from ..scorers.base import check_grad_path


def one_step_guidance(
    model: Denoiser,
    loss: Callable[[Tensor], Tensor],
    decode: Callable[[Tensor], Tensor],
    alphas_cumprod: Tensor,
    scale: float,
) -> Denoiser:
    """eps' = eps + s sqrt(1 - a_t) grad_x L(decode(x0_hat)), x0_hat = (x - sqrt(1 - a_t) eps) / sqrt(a_t).

    The loss plays -log p(y | x_t) in guided-diffusion's eps - sqrt(1 - a) grad log p (Dhariwal & Nichol 2021,
    §4.2); x0_hat is DOODL eq. 3 solved for x with eps from the model, as in CLIP-guided Stable Diffusion.
    DOODL §5.1 uses s = 30 for CLIP, §5.2 s = 5 for classifiers.
    """
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale >= 0:
        raise ValueError(f"guidance scale must be a number >= 0, got {scale!r}")

    def guided(x: Tensor, t: int | Tensor) -> Tensor:
        a = alphas_cumprod[int(t)].to(x.device, x.dtype)
        with torch.enable_grad():
            x_ = x.detach().requires_grad_(True)
            eps = model(x_, t)
            x0_hat = (x_ - (1 - a).sqrt() * eps) / a.sqrt()  # eq. 3 solved for x0
            images = decode(x0_hat)
            value = check_grad_path(loss(images), images, "the one-step guidance loss")
            (grad,) = torch.autograd.grad(value.sum(), x_)
        grad = torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
        return eps.detach() + scale * (1 - a).sqrt() * grad

    return guided
