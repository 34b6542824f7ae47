"""Pure metric functions on features and embeddings; the networks that make them are injected elsewhere."""

from .metrics import clip_score, frechet_distance, gaussian_stats
from .distances import per_class_distance, sliced_wasserstein

__all__ = ["clip_score", "frechet_distance", "gaussian_stats", "per_class_distance", "sliced_wasserstein"]
