"""Samples of a zoo DDPM: seeded DDIM batches, the sample grid of a model card, and sample metrics
(FMNIST-FID, class accuracy under classifier-free guidance)."""

from __future__ import annotations

from typing import Sequence

import torch
from PIL import Image
from torch import Tensor, nn

from ..backends.pixel import PixelBackend
from ..io.images import grid
from ..optimizer.baselines import sample
from .fid import fmnist_fid, target_accuracy


def sample_images(backend: PixelBackend, seeds: Sequence[int], steps: int = 50, class_label: int | Tensor | None = None,
                  guidance_scale: float = 1.0, batch_size: int = 500) -> Tensor:
    """DDIM samples (N, 1, 28, 28) in [0, 1], one seeded x_T per seed (as doodl.sample), in batches."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must not be empty")
    labels = None if class_label is None else torch.as_tensor(class_label).long().reshape(-1)
    if labels is not None and labels.numel() not in (1, len(seeds)):
        raise ValueError(f"class_label must be one label or one per seed ({len(seeds)}), got {labels.numel()}")
    cond: dict = {}
    if backend.num_classes is not None:
        cond["guidance_scale"] = guidance_scale
    out = []
    for i in range(0, len(seeds), batch_size):
        chunk = seeds[i : i + batch_size]
        if labels is not None:
            cond["class_label"] = labels if labels.numel() == 1 else labels[i : i + len(chunk)]
        out.append(sample(backend, seed=chunk, num_inference_steps=steps, **cond).images.float().cpu())
    return torch.cat(out)


def sample_grid(backend: PixelBackend, n_seeds: int = 8, steps: int = 50, class_label: int | None = None,
                guidance_scale: float = 1.0, seeds: Sequence[int] | None = None, scale: int = 2) -> Image.Image:
    """A grid of samples: one row per class for a conditional model without class_label, else one row of seeds."""
    seeds = list(seeds) if seeds is not None else list(range(n_seeds))
    if backend.num_classes is not None and class_label is None:
        rows = [sample_images(backend, seeds, steps, c, guidance_scale) for c in range(backend.num_classes)]
    else:
        rows = [sample_images(backend, seeds, steps, class_label, guidance_scale)]
    return grid(rows, scale=scale)


def sample_metrics(backend: PixelBackend, eval_model: nn.Module, reference_images: Tensor, n: int = 1000,
                   steps: int = 50, scales: Sequence[float] = (1.0, 3.0)) -> dict[str, float]:
    """FMNIST-FID of n samples against reference images; for a conditional model, per CFG scale, also the
    fraction the evaluation classifier assigns to the requested class (labels cycle 0..9)."""
    seeds = list(range(10_000, 10_000 + n))  # away from the small seeds that grids and demos show
    ref = reference_images[:n]
    if backend.num_classes is None:
        return {"fmnist_fid": fmnist_fid(sample_images(backend, seeds, steps), ref, eval_model), "n": n}
    labels = torch.arange(n) % backend.num_classes
    out: dict[str, float] = {"n": n}
    for w in scales:
        imgs = sample_images(backend, seeds, steps, labels, w)
        out[f"fmnist_fid_cfg{w:g}"] = fmnist_fid(imgs, ref, eval_model)
        out[f"class_accuracy_cfg{w:g}"] = target_accuracy(imgs, eval_model, labels)
    return out
