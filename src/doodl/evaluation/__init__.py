"""Pure metric functions on features and embeddings; the networks that make them are injected elsewhere."""

from .metrics import clip_score, frechet_distance, gaussian_stats

__all__ = ["clip_score", "frechet_distance", "gaussian_stats"]
