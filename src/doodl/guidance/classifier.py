"""Classifier guidance as a model wrapper (Dhariwal & Nichol 2021, §4.2, Algorithm 2 written for eps).

A noise-aware classifier p(y | x_t, t) shifts the noise prediction against its log-likelihood gradient:

    eps'(x_t, t) = eps(x_t, t) - s * sqrt(1 - alpha_bar_t) * grad_{x_t} log p(y | x_t, t)

which is the score of p(x_t) p(y | x_t)^s (Dhariwal & Nichol eq. 11 and 12, with their scale s). guided-diffusion
passes the gradient in as `cond_fn(x, t) -> grad`; `cond_fn_guidance` takes that form, `classifier_guidance`
builds it from a classifier that returns logits.

Both take the sampler's steps and write the shift as out - s * step.noise * grad for either family: for a
velocity model (step.noise = sigma) that is the exact score-to-velocity conversion at the effective scale
s (1 - sigma), finite at sigma = 1 (see guidance/one_step.py for the derivation).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..samplers.common import Denoiser
from ..schedules.steps import Step
from .lookup import step_lookup

CondFn = Callable[[Tensor, "int | Tensor"], Tensor]
Classifier = Callable[[Tensor, "int | Tensor"], Tensor]


def check_scale(scale: float, name: str = "scale") -> float:
    """A guidance scale must be a finite number >= 0; ValueError naming `name` otherwise."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {scale!r}")
    return float(scale)


def cond_fn_guidance(model: Denoiser, cond_fn: CondFn, steps: Sequence[Step], scale: float) -> Denoiser:
    """out' = out - s noise_t cond_fn(x_t, t), cond_fn = grad log p(y | x_t, t) (guided-diffusion's contract).

    VP: eps - s sqrt(1 - a_t) grad; `steps` are the sampler's (backend.steps(n)), looked up by t.
    """
    s = check_scale(scale)
    find = step_lookup(steps)

    def guided(x: Tensor, t: int | Tensor) -> Tensor:
        eps = model(x, t)
        if s == 0:  # exactly the unguided model: no classifier call at all
            return eps
        noise = find(t).noise
        grad = cond_fn(x, t)
        if grad.shape != x.shape:
            raise ValueError(f"cond_fn returned shape {tuple(grad.shape)} for input {tuple(x.shape)}")
        return eps - s * noise * grad.to(eps.dtype)

    return guided


def log_prob_grad(classifier: Classifier, target: int | Tensor) -> CondFn:
    """cond_fn(x, t) = grad_x log softmax(classifier(x, t))[target], summed over the batch (rows independent)."""

    def cond_fn(x: Tensor, t: int | Tensor) -> Tensor:
        with torch.enable_grad():
            x_ = x.detach().requires_grad_(True)
            logits = classifier(x_, t)
            if logits.ndim != 2 or logits.shape[0] != x.shape[0]:
                raise ValueError(f"classifier must return logits (B, C), got {tuple(logits.shape)} for B = {x.shape[0]}")
            y = _targets(target, x.shape[0], logits.shape[1], x.device)
            logp = F.log_softmax(logits.float(), dim=-1).gather(1, y[:, None]).sum()
            (grad,) = torch.autograd.grad(logp, x_)
        return grad.detach()

    return cond_fn


def _targets(target: int | Tensor, batch: int, num_classes: int, device: torch.device) -> Tensor:
    y = torch.as_tensor(target, device=device).long().reshape(-1)
    if y.numel() == 1:
        y = y.expand(batch)
    if y.numel() != batch:
        raise ValueError(f"target must be one class or one per sample ({batch}), got {y.numel()}")
    if (y < 0).any() or (y >= num_classes).any():
        raise ValueError(f"target must lie in [0, {num_classes - 1}], got {y.unique().tolist()}")
    return y


def classifier_guidance(
    model: Denoiser, classifier: Classifier, steps: Sequence[Step], scale: float, target: int | Tensor
) -> Denoiser:
    """Classifier guidance at scale s toward class `target` (Dhariwal & Nichol 2021, Alg. 2 in eps form).

    Args:
        model: the unconditional eps = model(x, t).
        classifier: noise-aware logits = classifier(x_t, t), (B, ...) -> (B, C).
        steps: the sampler's steps (backend.steps(n)); the model is only called at their t.
        scale: s >= 0; s = 0 returns the unconditional eps exactly, s = 1 the plain Bayes decomposition.
        target: one class for the whole batch or a (B,) tensor of classes.
    """
    check_scale(scale)
    if not callable(classifier):
        raise ValueError(f"classifier must be callable (x, t) -> logits, got {type(classifier).__name__}")
    return cond_fn_guidance(model, log_prob_grad(classifier, target), steps, scale)
