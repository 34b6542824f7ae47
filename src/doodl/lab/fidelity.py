"""Support-based fidelity of generated points: improved precision and recall with k-NN balls.

Kynkäänniemi et al. 2019 ("Improved Precision and Recall Metric for Assessing Generative Models", §2, eq. 1-3):
the support of a set is approximated by the union of balls around its points, each ball's radius the distance
to that point's k-th nearest neighbour within the set (k = 3 in their paper). Precision is the share of
generated points inside the real support (fidelity); recall is the share of real points inside the generated
support (coverage). We compute them on the raw point coordinates (their paper uses VGG-16 features of images).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

DEFAULT_K = 3  # Kynkäänniemi et al. 2019, §2: k = 3


@dataclass(frozen=True)
class PrecisionRecall:
    """Share of generated points on the real support (precision) and of real points on the generated one (recall)."""

    precision: float
    recall: float
    k: int

    def as_dict(self) -> dict[str, float]:
        """JSON-ready fields."""
        return asdict(self)


def _points(name: str, x: Tensor, k: int) -> Tensor:
    """A finite (N, D) tensor with N > k, as float64 on the CPU; else a ValueError naming `name`."""
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"{name} must be a (N, D) tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if x.shape[0] <= k:
        need = f"more than k = {k} points for its k-NN balls" if k else "at least one point"
        raise ValueError(f"{name} needs {need}, got {x.shape[0]}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains non-finite values")
    return x.detach().to("cpu", torch.float64)


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    return k


def knn_radii(points: Tensor, k: int = DEFAULT_K) -> Tensor:
    """(N,) distance of each point to its k-th nearest other point of the same set (the ball radius, eq. 1)."""
    x = _points("points", points, _check_k(k))
    d = torch.cdist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # the 1st smallest is the point itself (distance 0)


def in_support(query: Tensor, support: Tensor, k: int = DEFAULT_K) -> Tensor:
    """(M,) bool: is each query point inside some k-NN ball of `support` (eq. 2, f(phi, Phi))?"""
    s = _points("support", support, _check_k(k))
    q = _points("query", query, 0)
    if q.shape[1] != s.shape[1]:
        raise ValueError(f"query and support differ in dimension: {q.shape[1]} vs {s.shape[1]}")
    radii = knn_radii(s, k)
    return (torch.cdist(q, s) <= radii[None, :]).any(dim=1)


def precision_recall(generated: Tensor, real: Tensor, k: int = DEFAULT_K) -> PrecisionRecall:
    """Improved precision and recall (Kynkäänniemi et al. 2019, eq. 3) of `generated` against `real`."""
    generated, real = _points("generated", generated, _check_k(k)), _points("real", real, k)
    precision = float(in_support(generated, real, k).double().mean())
    recall = float(in_support(real, generated, k).double().mean())
    return PrecisionRecall(precision, recall, k)


def per_class_precision_recall(generated: Tensor, generated_labels: Tensor, real: Tensor, real_labels: Tensor,
                               k: int = DEFAULT_K) -> dict[int, PrecisionRecall]:
    """precision_recall of each class's generated points against that class's real points."""
    if generated_labels.shape != generated.shape[:1] or real_labels.shape != real.shape[:1]:
        raise ValueError("labels must hold one entry per point (generated_labels and real_labels)")
    classes = sorted(set(generated_labels.tolist()) | set(real_labels.tolist()))
    return {int(c): precision_recall(generated[generated_labels == c], real[real_labels == c], k) for c in classes}
