"""Network-free scorers for demos and tests."""

from __future__ import annotations

from torch import Tensor

from .base import check_images, loss_dtype


class Brightness:
    """Mean brightness as a loss: 1 - mean(x) to brighten (maximize=True), mean(x) to darken; both in [0, 1]."""

    def __init__(self, maximize: bool = True):
        if not isinstance(maximize, bool):
            raise ValueError(f"maximize must be True or False, got {maximize!r}")
        self.maximize = maximize

    def __call__(self, images: Tensor) -> Tensor:
        """Per-image loss (B,) from the mean over channels and pixels."""
        check_images(images)
        mean = images.to(loss_dtype(images)).flatten(1).mean(dim=1)
        return 1 - mean if self.maximize else mean

    def __repr__(self) -> str:
        return f"Brightness(maximize={self.maximize})"
