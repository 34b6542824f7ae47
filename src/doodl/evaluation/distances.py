"""Distances between point clouds, as pure functions: sliced Wasserstein and per-class wrappers.

Sliced Wasserstein (Rabin et al. 2011; Bonneel et al. 2015): project both clouds on random unit directions,
take the 1-D Wasserstein-p distance between the projections (quantile functions), average W_p^p over the
directions and take the p-th root. Clouds of different sizes are compared through their empirical quantile
functions evaluated on a common grid of max(N_a, N_b) mid-point levels.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def _as_points(name: str, x: Tensor) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"{name} must be a (N, D) tensor with N >= 1, got {getattr(x, 'shape', type(x).__name__)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains non-finite values")
    return x.detach().to("cpu", torch.float64)


def quantiles(values: Tensor, n: int) -> Tensor:
    """Empirical quantile function of each column of values (N, P) at levels (i + 1/2) / n, i < n: (n, P)."""
    v, _ = values.sort(dim=0)
    levels = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    idx = (levels * v.shape[0]).floor().long().clamp_(max=v.shape[0] - 1)  # the step function's value
    return v[idx]


def sliced_wasserstein(
    a: Tensor, b: Tensor, n_projections: int = 256, generator: torch.Generator | None = None, p: float = 2.0
) -> float:
    """SW_p(a, b) = (E_theta W_p^p(theta.a, theta.b))^(1/p) over random unit theta (Bonneel et al. 2015, eq. 45).

    Args:
        a, b: point clouds (N_a, D) and (N_b, D); sizes may differ.
        n_projections: number of random directions (ignored for D = 1, where the distance is exact).
        generator: CPU generator for the directions; the same generator state gives the same value.
        p: the order, >= 1.
    """
    xa, xb = _as_points("a", a), _as_points("b", b)
    if xa.shape[1] != xb.shape[1]:
        raise ValueError(f"a and b must have the same dimension, got {xa.shape[1]} and {xb.shape[1]}")
    if isinstance(n_projections, bool) or not isinstance(n_projections, int) or n_projections < 1:
        raise ValueError(f"n_projections must be a positive int, got {n_projections!r}")
    if not p >= 1:
        raise ValueError(f"p must be >= 1, got {p!r}")
    d = xa.shape[1]
    if d == 1:
        theta = torch.ones(1, 1, dtype=torch.float64)
    else:
        theta = torch.randn(d, n_projections, generator=generator, dtype=torch.float64)
        theta = theta / theta.norm(dim=0, keepdim=True)
    n = max(xa.shape[0], xb.shape[0])
    qa, qb = quantiles(xa @ theta, n), quantiles(xb @ theta, n)
    return float((qa - qb).abs().pow(p).mean() ** (1.0 / p))


Distance = Callable[[Tensor, Tensor], float]


def per_class_distance(
    distance: Distance, generated: Tensor, generated_labels: Tensor, real: Tensor, real_labels: Tensor
) -> dict[int, float]:
    """{class: distance(generated of that class, real of that class)} over the classes present in `real_labels`."""
    if generated_labels.shape != (generated.shape[0],) or real_labels.shape != (real.shape[0],):
        raise ValueError("labels must be 1-D with one label per point")
    out: dict[int, float] = {}
    for c in sorted(int(v) for v in real_labels.unique()):
        g = generated[generated_labels == c]
        if g.shape[0] == 0:
            raise ValueError(f"no generated points of class {c}")
        out[c] = distance(g, real[real_labels == c])
    return out
