"""The scorer contract: images in [0, 1], (B, C, H, W) -> per-image loss (B,); input checks and weighted sums.

DOODL (Wallace et al. 2023, Algorithm 1) minimises c(MultiCrop(x_0)) for any differentiable cost c; here every
cost is such a callable, with its networks passed in already built.
"""

from __future__ import annotations

import math
from typing import Callable, Protocol, Sequence, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor


@runtime_checkable
class Scorer(Protocol):
    """A differentiable cost: images in [0, 1], (B, C, H, W) -> loss (B,), lower is better."""

    def __call__(self, images: Tensor) -> Tensor:
        """Per-image loss (B,) of images (B, C, H, W) in [0, 1]."""
        ...


def check_images(images: object, channels: Sequence[int] | None = None, name: str = "images") -> Tensor:
    """Validate a floating (B, C, H, W) batch with B, H, W > 0 and C in `channels` (any when None); return it."""
    if not isinstance(images, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(f"{name} must have 4 dimensions (B, C, H, W), got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor with values in [0, 1], got dtype {images.dtype}")
    b, c, h, w = images.shape
    if b == 0 or h == 0 or w == 0:
        raise ValueError(f"{name} must be a non-empty batch, got shape {tuple(images.shape)}")
    if channels is not None and c not in channels:
        allowed = " or ".join(str(k) for k in channels)
        raise ValueError(f"{name} must have {allowed} channels, got {c} (shape {tuple(images.shape)})")
    return images


def as_rgb(images: Tensor) -> Tensor:
    """Check images for an RGB network: 3 channels, or 1 channel repeated to 3 (grayscale backends)."""
    check_images(images, channels=(1, 3))
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def square_resize(images: Tensor, size: int) -> Tensor:
    """Center square crop of (B, C, H, W), bilinearly resized (antialiased) to (B, C, size, size); differentiable."""
    h, w = images.shape[-2:]
    if h != w:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        images = images[:, :, top : top + side, left : left + side]
    if images.shape[-1] != size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return images


def loss_dtype(images: Tensor) -> torch.dtype:
    """The dtype losses are returned in: float64 for float64 images, else float32 (half precision is too coarse)."""
    return torch.promote_types(images.dtype, torch.float32)


def check_weight(value: object, name: str) -> float:
    """A finite number >= 0, else a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    w = float(value)
    if not math.isfinite(w) or w < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return w


def check_loss(loss: object, batch: int, name: str) -> Tensor:
    """A scorer's output must be a tensor of shape (batch,); else a ValueError naming the scorer."""
    if not isinstance(loss, Tensor) or tuple(loss.shape) != (batch,):
        got = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"scorer {name} must return a tensor of shape ({batch},) (one loss per image), got {got}")
    return loss


def check_grad_path(loss: Tensor, images: Tensor, name: str) -> Tensor:
    """When gradients are being taken, a loss must depend differentiably on the images; else a ValueError naming it."""
    if torch.is_grad_enabled() and images.requires_grad and not loss.requires_grad:
        raise ValueError(f"{name} returned a loss with no gradient path to the images (detached, computed under "
                         "torch.no_grad, or through numpy / .item()); DOODL and one-step guidance need a "
                         "differentiable scorer")
    return loss


class UserScorer:
    """Any user-defined callable images -> (B,), wrapped with input and output shape checks."""

    def __init__(self, fn: Callable[[Tensor], Tensor], name: str | None = None, channels: Sequence[int] | None = None):
        if not callable(fn):
            raise ValueError(f"scorer must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.channels = tuple(channels) if channels is not None else None

    def __call__(self, images: Tensor) -> Tensor:
        """The wrapped callable's loss, checked to have one value per image."""
        check_images(images, self.channels)
        return check_loss(self.fn(images), images.shape[0], repr(self.name))

    def __repr__(self) -> str:
        return f"UserScorer({self.name!r})"


def as_scorer(fn: Callable[[Tensor], Tensor], name: str | None = None) -> Scorer:
    """Wrap a user-defined callable as a scorer that checks images are (B, C, H, W) and its loss is (B,)."""
    return fn if isinstance(fn, (UserScorer, WeightedSum)) else UserScorer(fn, name)


class WeightedSum:
    """sum_i w_i c_i(x): several guides at once (DOODL Algorithm 1's cost c may be any such combination)."""

    def __init__(self, terms: Sequence[tuple[Callable[[Tensor], Tensor], float]], names: Sequence[str] | None = None):
        terms = list(terms)
        if names is not None and len(names) != len(terms):
            raise ValueError(f"weighted sum got {len(names)} names for {len(terms)} terms")
        if not terms:
            raise ValueError("weighted sum needs at least one (scorer, weight) pair")
        self.terms: list[tuple[Scorer, float]] = []
        for i, pair in enumerate(terms):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"weighted sum term {i} must be a (scorer, weight) pair, got {pair!r}")
            fn, w = pair
            self.terms.append((as_scorer(fn), check_weight(w, f"weight of term {i}")))
        if not any(w > 0 for _, w in self.terms):
            raise ValueError("weighted sum weights must not all be zero")
        self.names = list(names) if names is not None else [repr(fn) for fn, _ in self.terms]

    def __call__(self, images: Tensor) -> Tensor:
        """The weighted sum of the terms' per-image losses (B,); zero-weight terms are not evaluated."""
        check_images(images)
        total: Tensor | None = None
        for (fn, w), name in zip(self.terms, self.names):
            if w == 0:
                continue
            term = w * check_grad_path(fn(images), images, f"scorer {name}").to(loss_dtype(images))
            total = term if total is None else total + term
        assert total is not None  # at least one weight is > 0 (checked in __init__)
        return total

    def __repr__(self) -> str:
        return "WeightedSum(" + ", ".join(f"{w:g}*{fn!r}" for fn, w in self.terms) + ")"


def weighted_sum(*pairs: tuple[Callable[[Tensor], Tensor], float]) -> WeightedSum:
    """weighted_sum((clip, 1.0), (aesthetic, 0.1)) -> one scorer returning the weighted sum of the losses."""
    return WeightedSum(pairs)
