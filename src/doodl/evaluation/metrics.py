"""Fréchet distance (Heusel et al. 2017, FID's formula) and CLIP score (Hessel et al. 2021), as pure functions."""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg
from torch import Tensor


def gaussian_stats(features: Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features (N, D), in float64; N must be at least 2."""
    f = features.detach().double().cpu().numpy() if isinstance(features, Tensor) else np.asarray(features, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must have shape (N, D) with N >= 2, got {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError("features contain non-finite values")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(feats_a: Tensor | np.ndarray, feats_b: Tensor | np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to two feature sets (N, D).

    FID's formula (Heusel et al. 2017, eq. 6); with features other than Inception's it is not comparable to
    published FID numbers.
    """
    mu_a, s_a = gaussian_stats(feats_a)
    mu_b, s_b = gaussian_stats(feats_b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"feature dimensions differ: {mu_a.shape[0]} and {mu_b.shape[0]}")
    # Tr((S_a S_b)^(1/2)) = sum of sqrt(eig(A S_b A)), A = S_a^(1/2): symmetric PSD, so eigh is exact and stable
    # (no sqrtm of a non-symmetric product, whose signature also changed across SciPy versions)
    w, v = linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    tr_covmean = np.sqrt(np.clip(linalg.eigvalsh(root_a @ s_b @ root_a), 0, None)).sum()
    diff = mu_a - mu_b
    return float(max(diff @ diff + np.trace(s_a) + np.trace(s_b) - 2 * tr_covmean, 0.0))


def clip_score(image_embeds: Tensor, text_embeds: Tensor, weight: float = 100.0) -> Tensor:
    """Per-pair CLIP score w * max(cos(E_I, E_T), 0), (B, D) x (B, D) -> (B,) (Hessel et al. 2021, eq. 1; w = 100
    as in torchmetrics, where the paper uses 2.5)."""
    if image_embeds.ndim != 2 or image_embeds.shape != text_embeds.shape:
        raise ValueError(
            f"image_embeds and text_embeds must both have shape (B, D), got {tuple(image_embeds.shape)} and {tuple(text_embeds.shape)}"
        )
    cos = torch.nn.functional.cosine_similarity(image_embeds.double(), text_embeds.double(), dim=-1)
    return weight * cos.clamp(min=0)
