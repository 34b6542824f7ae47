"""One-step classifier guidance: the loss gradient on the one-step estimate of x0 (DOODL §3.2.1, option 2).

How the gradient enters the model's output, for either family (out = eps or the velocity v):

    out' = out + s * noise_t * grad_x L(decode(x0_hat(x, out)))

VP (out = eps, noise_t = sqrt(1 - alpha_bar_t)): guided-diffusion's eps - sqrt(1 - a) grad log p with the loss
as -log p (Dhariwal & Nichol 2021, §4.2), as in CLIP-guided Stable Diffusion. Rectified flow (out = v,
x_t = (1 - sigma) x0 + sigma eps, noise_t = sigma): the exact conversion of a score shift to a velocity is
v - sigma / (1 - sigma) * grad log p (from eps = x + (1 - sigma) v and score = -eps / sigma; Lipman et al. 2024,
"Flow Matching Guide and Code", the velocity-score relation), whose weight is infinite at sigma = 1. We use
v' = v + s sigma grad L instead: that exact conversion at the effective scale s (1 - sigma), which vanishes
where the sample is pure noise and the one-step x0 estimate says nothing. It is finite at sigma = 1 (the
first step of SD3 / Flux), where it moves x0_hat = x - v by -s grad L.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from ..samplers.common import Denoiser
from ..schedules.steps import Step
from ..scorers.base import check_grad_path
from .lookup import step_lookup


def one_step_guidance(
    model: Denoiser,
    loss: Callable[[Tensor], Tensor],
    decode: Callable[[Tensor], Tensor],
    steps: Sequence[Step],
    scale: float,
) -> Denoiser:
    """out' = out + s noise_t grad_x L(decode(step.x0(x, out))), for the sampler's `steps` (see module docstring).

    For VP steps this is eps + s sqrt(1 - a_t) grad L with x0_hat = (x - sqrt(1 - a_t) eps) / sqrt(a_t) (DOODL
    eq. 3 solved for x0). DOODL §5.1 uses s = 30 for CLIP, §5.2 s = 5 for classifiers.
    """
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale >= 0:
        raise ValueError(f"guidance scale must be a number >= 0, got {scale!r}")
    find = step_lookup(steps)

    def guided(x: Tensor, t: int | float | Tensor) -> Tensor:
        step = find(t)
        with torch.enable_grad():
            x_ = x.detach().requires_grad_(True)
            out = model(x_, t)
            images = decode(step.x0(x_, out))
            value = check_grad_path(loss(images), images, "the one-step guidance loss")
            (grad,) = torch.autograd.grad(value.sum(), x_)
        grad = torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
        return out.detach() + scale * step.noise * grad

    return guided
