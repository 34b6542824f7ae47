"""FMNIST-FID and class accuracy with an injected evaluation classifier (the Fréchet distance of Heusel et al. 2017
on the zoo's fashion-eval features: a yardstick inside this project, not comparable to published FID)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..evaluation.metrics import frechet_distance


def check_fmnist_images(images: Tensor, name: str = "images") -> Tensor:
    """Validate a (N, 1, 28, 28) float batch in [0, 1]; ValueError naming `name` otherwise."""
    if not isinstance(images, Tensor) or images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{name} must be a (N, 1, 28, 28) tensor, got shape {tuple(getattr(images, 'shape', ()))}")
    if not images.is_floating_point() or not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise ValueError(f"{name} must be finite floats in [0, 1]")
    return images


def _batched(model_fn, images: Tensor, batch_size: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    outs = [model_fn(images[i : i + batch_size].to(device=device, dtype=dtype)).float().cpu()
            for i in range(0, images.shape[0], batch_size)]
    return torch.cat(outs)


def _param(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    p = next(model.parameters())
    return p.device, p.dtype


@torch.no_grad()
def fmnist_features(images: Tensor, eval_model: nn.Module, batch_size: int = 500) -> Tensor:
    """Penultimate features (N, D) of images in [0, 1], (N, 1, 28, 28), from eval_model.features (EvalCNN: D = 128)."""
    check_fmnist_images(images)
    if not callable(getattr(eval_model, "features", None)):
        raise ValueError("eval_model must have a features(images) method (the zoo's fashion-eval EvalCNN)")
    was_training = eval_model.training
    eval_model.eval()
    try:
        return _batched(eval_model.features, images, batch_size, *_param(eval_model))
    finally:
        eval_model.train(was_training)


def fmnist_fid(images: Tensor, reference_images: Tensor, eval_model: nn.Module) -> float:
    """FMNIST-FID: Fréchet distance between Gaussians fitted to eval_model features of two image sets (FID eq.)."""
    check_fmnist_images(reference_images, "reference_images")
    return frechet_distance(fmnist_features(images, eval_model), fmnist_features(reference_images, eval_model))


@torch.no_grad()
def predict(images: Tensor, model: nn.Module, batch_size: int = 500) -> Tensor:
    """Predicted class (N,) of images in [0, 1], (N, 1, 28, 28), by a classifier returning logits (N, 10)."""
    check_fmnist_images(images)
    was_training = model.training
    model.eval()
    try:
        return _batched(model, images, batch_size, *_param(model)).argmax(dim=1)
    finally:
        model.train(was_training)


def _labels(target: int | Tensor, n: int) -> Tensor:
    t = torch.as_tensor(target).long().reshape(-1).cpu()
    if t.numel() == 1:
        t = t.expand(n)
    if t.numel() != n:
        raise ValueError(f"target must be one class or one per image ({n}), got {t.numel()}")
    if (t < 0).any() or (t > 9).any():
        raise ValueError("target classes must lie in [0, 9]")
    return t


def target_accuracy(images: Tensor, eval_model: nn.Module, target: int | Tensor) -> float:
    """Fraction of images that eval_model assigns to `target` (one class, or one per image)."""
    pred = predict(images, eval_model)
    return float((pred == _labels(target, pred.numel())).double().mean())


def classifier_accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000) -> float:
    """Test accuracy of a classifier on uint8 (N, 28, 28) or float (N, 1, 28, 28) images with int labels (N,)."""
    if images.dtype == torch.uint8:
        images = images.float().div(255).unsqueeze(1)
    pred = predict(images, model, batch_size)
    return float((pred == _labels(labels, pred.numel())).double().mean())
