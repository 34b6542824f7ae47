"""Which iterate of DOODL to return per image: the last (the paper's Algorithm 1), the one with the lowest
guidance loss, or the one a held-out scorer the user passes likes best.

"best" by the guidance loss can pick the iterate that fools the guidance classifier; a held-out scorer (a
different network than the one in the loss) does not reward that. Measured: BENCHMARKS.md §5 ("Selection").
"""

from __future__ import annotations

from typing import Callable, Union

import torch
from torch import Tensor

Scorer = Callable[[Tensor], Tensor]  # images in [0, 1] (B, C, H, W) -> (B,), lower is better
Select = Union[str, Scorer]
SELECT_MODES = ("last", "best")


def check_select(select: Select) -> Select:
    """'last', 'best' or a callable scorer; ValueError otherwise."""
    if callable(select) or select in SELECT_MODES:
        return select
    raise ValueError(f"select must be 'last', 'best' or a callable scorer images -> (B,) (lower is better), got {select!r}")


class Selector:
    """Keeps, per image, the iterate chosen by `select` among those offered with offer()."""

    def __init__(self, select: Select) -> None:
        self.select = check_select(select)
        self.images: Tensor | None = None
        self.latents: Tensor | None = None
        self.latents_y: Tensor | None = None  # y_T of the kept pair
        self.loss: Tensor | None = None  # guidance loss of the kept iterate
        self.score: Tensor | None = None  # the criterion of the kept iterate (loss, held-out score, or step)
        self.step: Tensor | None = None

    def _criterion(self, images: Tensor, loss: Tensor, step: int) -> Tensor:
        if self.select == "last":
            return torch.full_like(loss, -float(step))  # later is better
        if self.select == "best":
            return loss
        with torch.no_grad():
            out = self.select(images)  # type: ignore[operator]
        if not isinstance(out, Tensor) or out.shape != (images.shape[0],):
            raise ValueError(f"the select scorer must return a tensor of shape ({images.shape[0]},), got "
                             f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}")
        return out.detach().to(loss.device, torch.float64)

    def offer(self, images: Tensor, latents: Tensor, loss: Tensor, ok: Tensor, step: int,
              latents_y: Tensor | None = None) -> None:
        """Consider one iterate: images, x_T (and y_T), guidance loss (B,) float64, ok (B,) bool (finite), its step."""
        latents_y = latents if latents_y is None else latents_y
        crit = self._criterion(images, loss, step)
        crit = torch.where(ok, crit, torch.full_like(crit, float("inf")))
        if self.images is None:
            self.images, self.latents, self.loss, self.score = images.clone(), latents.clone(), loss.clone(), crit
            self.latents_y = latents_y.clone()
            self.step = torch.full((images.shape[0],), step, dtype=torch.long)
            return
        assert self.latents is not None and self.loss is not None and self.score is not None and self.step is not None
        better = ok & (crit < self.score)
        m = better.reshape(-1, *([1] * (images.ndim - 1)))
        self.images = torch.where(m, images, self.images)
        ml = better.reshape(-1, *([1] * (latents.ndim - 1)))
        self.latents = torch.where(ml, latents, self.latents)
        self.latents_y = torch.where(ml, latents_y, self.latents_y)
        self.loss = torch.where(better, loss, self.loss)
        self.score = torch.where(better, crit, self.score)
        self.step = torch.where(better.cpu(), torch.full_like(self.step, step), self.step)
