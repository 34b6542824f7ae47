"""Decoding into the image range without a dead gradient beyond it (issue 15, BENCHMARKS.md §5.4).

A hard clamp(0, 1) has zero gradient outside the range, so pixels that DOODL's updates push past white (or
below black) are invisible to every loss: nothing pulls them back and they pile up as saturated silhouettes.
`restoring_clamp` returns the same clamped values but, outside the range, passes back the gradient of
pull / 2 * (x - bound)^2 instead of zero, a restoring force toward the range (inside it the gradient is the loss's).
It is DOODL's choice (DoodlConfig.range_pull), for the *final* image only: one-step guidance decodes the noisy
x0 estimate, which lies far outside the range early in the chain, and a pull there would swamp its gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor


class _RestoringClamp(torch.autograd.Function):
    """clamp forward; backward: the incoming gradient inside [low, high], pull * (x - bound) outside."""

    @staticmethod
    def forward(ctx, x: Tensor, low: float, high: float, pull: float) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.low, ctx.high, ctx.pull = low, high, pull
        return x.clamp(low, high)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        bounded = x.clamp(ctx.low, ctx.high)
        return torch.where(x == bounded, grad, ctx.pull * (x - bounded)), None, None, None


def restoring_clamp(x: Tensor, low: float = 0.0, high: float = 1.0, pull: float = 0.0) -> Tensor:
    """x.clamp(low, high); beyond the range the gradient is pull * (x - bound), not zero (pull = 0: a plain clamp)."""
    if not (isinstance(pull, (int, float)) and not isinstance(pull, bool) and 0 <= pull < float("inf")):
        raise ValueError(f"pull must be a finite number >= 0, got {pull!r}")
    if not low < high:
        raise ValueError(f"low must be below high, got low={low!r}, high={high!r}")
    if pull == 0 or not x.requires_grad:
        return x.clamp(low, high)
    return _RestoringClamp.apply(x, float(low), float(high), float(pull))
