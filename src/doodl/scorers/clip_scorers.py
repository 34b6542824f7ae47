"""CLIP guidance: text prompts (DOODL §5.1) and reference images (§5.4, personalisation), by a weighted ensemble."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import as_rgb, check_images, check_weight, loss_dtype
from .clip import ClipEmbedder, spherical_distance
from .crops import MultiCrop

Ensemble = ClipEmbedder | Sequence[tuple[ClipEmbedder, float]]


def normalize_ensemble(embedders: Ensemble) -> list[tuple[ClipEmbedder, float]]:
    """One embedder or (embedder, weight) pairs -> pairs with weights >= 0 scaled to sum to 1.

    The loss of an ensemble is sum_k w_k d_k / sum_k w_k, as in the released code, so the ensemble's weights
    set proportions and the guide's own weight keeps the paper's lambda scale. §5.4 uses ViT-B/32, L/14 and g/14
    with 0.5, 0.25, 0.25; every model asked for is used (the released code's if/elif built only the first).
    """
    pairs = [(embedders, 1.0)] if isinstance(embedders, ClipEmbedder) else list(embedders)
    if not pairs:
        raise ValueError("embedders must hold at least one (ClipEmbedder, weight) pair")
    out = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not callable(getattr(pair[0], "embed_images", None)):
            raise ValueError(f"embedders[{i}] must be a (ClipEmbedder, weight) pair, got {pair!r}")
        out.append((pair[0], check_weight(pair[1], f"CLIP weight {i}")))
    total = sum(w for _, w in out)
    if total <= 0:
        raise ValueError("CLIP ensemble weights must not all be zero")
    return [(e, w / total) for e, w in out]


class _ClipEnsembleScorer:
    """Shared call: crop once, embed all crops with each model in one call, spherical distance to its targets."""

    embedders: list[tuple[ClipEmbedder, float]]
    targets: list[Tensor]  # per model: unit embeddings (T, D); the distance is averaged over the T targets
    crops: MultiCrop | None

    def __call__(self, images: Tensor) -> Tensor:
        """Weighted per-image distance (B,) between the (cropped) images' and the targets' CLIP embeddings."""
        x = as_rgb(images)
        batch = x.shape[0]
        views = self.crops.crops(x) if self.crops is not None else x
        total: Tensor | None = None
        for (embedder, w), target in zip(self.embedders, self.targets):
            if w == 0:
                continue
            emb = embedder.embed_images(views)  # one batched call for all crops of all images
            dist = spherical_distance(emb[:, None, :], target.to(emb.device, emb.dtype)[None]).mean(dim=-1)
            per_image = self.crops.reduce(dist, batch) if self.crops is not None else dist
            term = w * per_image.to(images.device, loss_dtype(images))
            total = term if total is None else total + term
        assert total is not None  # normalize_ensemble guarantees a positive weight
        return total


class ClipTextScorer(_ClipEnsembleScorer):
    """Spherical distance (eq. 10) between CLIP image and text embeddings (DOODL §5.1), for one or more CLIPs.

    Args:
        embedders: one ClipEmbedder or (embedder, weight) pairs (weights >= 0, normalised to sum to 1).
        prompts: one prompt or several; with several the distance is averaged over them.
        crops: MultiCrop augmentation (paper: 16 crops), or None to score the whole images.
    The prompts are embedded once, here, and cached.
    """

    def __init__(self, embedders: Ensemble, prompts: str | Sequence[str], crops: MultiCrop | None = None):
        self.embedders = normalize_ensemble(embedders)
        self.prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not self.prompts:
            raise ValueError("prompts must not be empty: give at least one prompt")
        if not all(isinstance(p, str) for p in self.prompts):
            raise ValueError(f"prompts must be strings, got {self.prompts!r}")
        if crops is not None and not isinstance(crops, MultiCrop):
            raise ValueError(f"crops must be a MultiCrop or None, got {type(crops).__name__}")
        self.crops = crops
        with torch.no_grad():
            self.targets = [F.normalize(e.embed_text(self.prompts), dim=-1) for e, _ in self.embedders]

    def __repr__(self) -> str:
        return f"ClipTextScorer(prompts={self.prompts!r}, models={[e.name for e, _ in self.embedders]}, crops={self.crops!r})"


def _reference_batches(reference_images: Tensor | Sequence[Tensor]) -> list[Tensor]:
    """References as a list of (N, C, H, W) batches in [0, 1]; sizes may differ between list items."""
    if isinstance(reference_images, Tensor):
        refs = [reference_images]
    else:
        refs = list(reference_images)
        if not refs:
            raise ValueError("reference_images must not be empty: give at least one reference image")
    out = []
    for i, r in enumerate(refs):
        if not isinstance(r, Tensor):
            raise ValueError(f"reference_images[{i}] must be a tensor, got {type(r).__name__}")
        r = r[None] if r.ndim == 3 else r
        out.append(check_images(r, channels=(1, 3), name=f"reference_images[{i}]"))
    return out


class ClipImageScorer(_ClipEnsembleScorer):
    """Spherical distance (eq. 10) between CLIP embeddings of the images and of reference images (DOODL §5.4).

    Per model the references are embedded once, L2-normalised, averaged and normalised again (the released
    code's handling of several conditioning images; the paper shows one), so the target is the references'
    mean direction. The paper's ensemble is ViT-B/32, L/14, g/14 weighted 0.5, 0.25, 0.25.

    Args:
        embedders: one ClipEmbedder or (embedder, weight) pairs (weights >= 0, normalised to sum to 1).
        reference_images: (R, C, H, W) in [0, 1], or a list of (C, H, W) / (N, C, H, W) tensors of any sizes.
        crops: MultiCrop augmentation of the scored images (the references are embedded whole).
    """

    def __init__(self, embedders: Ensemble, reference_images: Tensor | Sequence[Tensor], crops: MultiCrop | None = None):
        self.embedders = normalize_ensemble(embedders)
        refs = _reference_batches(reference_images)
        if crops is not None and not isinstance(crops, MultiCrop):
            raise ValueError(f"crops must be a MultiCrop or None, got {type(crops).__name__}")
        self.crops = crops
        self.n_references = sum(r.shape[0] for r in refs)
        self.targets = []
        with torch.no_grad():
            for embedder, _ in self.embedders:
                emb = torch.cat([F.normalize(embedder.embed_images(r), dim=-1) for r in refs])
                self.targets.append(F.normalize(emb.mean(dim=0, keepdim=True), dim=-1))

    def __repr__(self) -> str:
        names = [e.name for e, _ in self.embedders]
        return f"ClipImageScorer({self.n_references} references, models={names}, crops={self.crops!r})"
