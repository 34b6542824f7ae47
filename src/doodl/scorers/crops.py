"""Multi-crop augmentation before scoring (DOODL §4, Algorithm 1: L = c(MultiCrop(x_0)); 16 crops per image)."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import check_images

REDUCTIONS = ("mean", "min")


class MultiCrop:
    """Random square cuts of each image, resized to `size`, scored in one batch and reduced back to one loss each.

    Cut sizes are drawn as in CLIP-guided Stable Diffusion's cutouts: s = int(u ** cut_power * (max - min) + min)
    with u ~ U[0, 1), max = min(H, W), min = min(H, W, size), and a uniform random offset. cut_power > 1 favours
    small cuts, < 1 large ones. The same cuts are used for every image of a batch, and the draws come from this
    object's own CPU generator, so a MultiCrop built with the same seed yields the same cuts on any device.

    reduce="mean" (default) averages the per-crop losses of an image; "min" keeps the smallest, which is what the
    released DOODL code does for its CLIP losses (its spherical distance returns the minimum over all crops). We
    default to the mean because Algorithm 1 writes the cost of MultiCrop(x_0) as one cost over the augmented
    views, i.e. an average, and because the minimum sends the gradient through a single crop per step: the rest
    of the image gets no signal and the chosen crop changes between iterations, so the gradient is noisier and one
    crop alone can satisfy the scorer. "min" is kept to reproduce the released code.

    Args:
        n_crops: cuts per image (paper and released code's gen(): 16).
        cut_power: exponent on u (CLIP-guided SD's default 1.0; the released DOODL gen() uses 0.3).
        size: side of the resized cuts; use the scoring network's input size (CLIP: 224).
        seed: seeds the generator when `generator` is not given.
        generator: a CPU torch.Generator to draw the cuts from (shared, advanced by each call).
        reduce: "mean" or "min" over the crops of each image.
    """

    def __init__(
        self,
        n_crops: int = 16,
        cut_power: float = 1.0,
        size: int = 224,
        seed: int = 0,
        generator: torch.Generator | None = None,
        reduce: str = "mean",
    ):
        if isinstance(n_crops, bool) or not isinstance(n_crops, int) or n_crops < 1:
            raise ValueError(f"n_crops must be an integer >= 1, got {n_crops!r}")
        if isinstance(cut_power, bool) or not isinstance(cut_power, (int, float)) or not math.isfinite(cut_power) or cut_power <= 0:
            raise ValueError(f"cut_power must be a finite number > 0, got {cut_power!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be an integer >= 1, got {size!r}")
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
        if generator is not None and generator.device.type != "cpu":
            raise ValueError(f"generator must be a CPU torch.Generator, got one on {generator.device}")
        self.n_crops, self.cut_power, self.size, self.reduction = n_crops, float(cut_power), size, reduce
        self.generator = generator if generator is not None else torch.Generator().manual_seed(int(seed))

    def draw(self, height: int, width: int) -> list[tuple[int, int, int]]:
        """(top, left, side) of n_crops square cuts inside a height x width image; advances the generator."""
        max_size = min(height, width)
        min_size = min(height, width, self.size)
        cuts = []
        for _ in range(self.n_crops):
            u = float(torch.rand((), generator=self.generator))
            side = int(u**self.cut_power * (max_size - min_size) + min_size)
            top = int(torch.randint(0, height - side + 1, (), generator=self.generator))
            left = int(torch.randint(0, width - side + 1, (), generator=self.generator))
            cuts.append((top, left, side))
        return cuts

    def crops(self, images: Tensor) -> Tensor:
        """Images (B, C, H, W) -> crops (n_crops * B, C, size, size), crop-major: row k * B + b is cut k of image b."""
        check_images(images)
        _, _, h, w = images.shape
        out = []
        for top, left, side in self.draw(h, w):
            cut = images[:, :, top : top + side, left : left + side]
            if side != self.size:
                cut = F.interpolate(cut, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
            out.append(cut)
        return torch.cat(out, dim=0)

    def reduce(self, losses: Tensor, batch: int) -> Tensor:
        """Per-crop losses (n_crops * B,), crop-major -> per-image loss (B,) by mean or min over the crops."""
        if tuple(losses.shape) != (self.n_crops * batch,):
            raise ValueError(f"losses must have shape ({self.n_crops * batch},) for {batch} images, got {tuple(losses.shape)}")
        per_crop = losses.reshape(self.n_crops, batch)
        return per_crop.mean(dim=0) if self.reduction == "mean" else per_crop.min(dim=0).values

    def apply(self, images: Tensor, per_image_loss: Callable[[Tensor], Tensor]) -> Tensor:
        """Crop, score all crops in one call of per_image_loss, and reduce back to (B,)."""
        return self.reduce(per_image_loss(self.crops(images)), images.shape[0])

    def __repr__(self) -> str:
        return f"MultiCrop(n_crops={self.n_crops}, cut_power={self.cut_power:g}, size={self.size}, reduce={self.reduction!r})"


def score_with_crops(crops: MultiCrop | None, images: Tensor, per_image_loss: Callable[[Tensor], Tensor]) -> Tensor:
    """per_image_loss on the crops of the images (reduced to (B,)), or on the images themselves when crops is None."""
    return per_image_loss(images) if crops is None else crops.apply(images, per_image_loss)
