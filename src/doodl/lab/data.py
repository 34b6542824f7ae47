"""Toy data of the classifier-centric study: a 1-D two-class Gaussian mixture and a 2-D two-class fractal.

The fractal follows the paper's App. C.2 in words (each class a binary tree of branches, depth 6, 8 Gaussians
evenly spaced along each branch, covariances rotated to the branch's orientation; the construction is in the
spirit of Karras et al. 2024, App. C). The paper's numbers were lost; ours are in FractalSpec, chosen so that
the two trees grow from the same root, one leaning left and one right, and interleave in the middle: the
classes are entangled where the trees cross, which is where a classifier's decision boundary runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor


def _check_n(n_per_class: int) -> int:
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, int) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive int, got {n_per_class!r}")
    return n_per_class


def _shuffle(x: Tensor, y: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
    perm = torch.randperm(x.shape[0], generator=g)
    return x[perm].contiguous(), y[perm].contiguous()


@dataclass(frozen=True)
class MixtureSpec:
    """Two 1-D Gaussians, one per class, that overlap around 0 (the classifier's decision boundary)."""

    means: tuple[float, float] = (-1.0, 1.0)  # ours: symmetric about 0 so the Bayes boundary is x = 0
    std: float = 0.5  # ours: the classes overlap by ~2.3% each beyond the boundary (entangled, still learnable)


def mixture1d(n_per_class: int, seed: int = 0, spec: MixtureSpec = MixtureSpec()) -> tuple[Tensor, Tensor]:
    """(x (2n, 1) float32, y (2n,) int64): n points of each class, shuffled; the same seed gives the same set."""
    n = _check_n(n_per_class)
    g = torch.Generator().manual_seed(int(seed))
    x = torch.cat([m + spec.std * torch.randn(n, 1, generator=g, dtype=torch.float64) for m in spec.means])
    y = torch.arange(2).repeat_interleave(n)
    return _shuffle(x.float(), y, g)


@dataclass(frozen=True)
class FractalSpec:
    """The two trees; every number is ours (the paper's App. C.2 values were lost)."""

    depth: int = 6  # paper: 6 splits, so 2^7 - 1 = 127 branches per class
    gaussians_per_branch: int = 8  # paper: 8 Gaussians evenly along each branch
    root: tuple[float, float] = (0.0, 0.0)  # both classes grow from the same point (shared, as in the paper)
    trunk_length: float = 1.0  # shared by both classes, as in the paper
    orientations: tuple[float, float] = (math.pi / 2 + 0.3, math.pi / 2 - 0.3)  # class 0 leans left, class 1 right
    spread: float = 0.5  # radians between a child and its parent: the trees cross near the middle
    ratio: float = 0.75  # child length / parent length
    along: float = 0.09  # std along the branch, as a fraction of the branch length (neighbours blend)
    across: float = 0.02  # std across the branch, as a fraction of the trunk length (thin twigs)
    scale: float = 1.25  # RMS coordinate of the component means after centring (ours: a small eps-MLP resolves
    #                      the twigs better at this scale than at 0.6; measured with sliced Wasserstein)


def branches(spec: FractalSpec, cls: int) -> list[tuple[float, float, float, float]]:
    """Every branch of class `cls` as (x0, y0, length, angle): the root, then each split (eq. S1 to S3 in words)."""
    out = [(spec.root[0], spec.root[1], spec.trunk_length, spec.orientations[cls])]
    level = [out[0]]
    for _ in range(spec.depth):
        nxt = []
        for x0, y0, length, angle in level:
            end = (x0 + length * math.cos(angle), y0 + length * math.sin(angle))  # child starts at the tip (S1)
            for sign in (1.0, -1.0):
                nxt.append((end[0], end[1], length * spec.ratio, angle + sign * spec.spread))  # (S2), (S3)
        out.extend(nxt)
        level = nxt
    return out


@lru_cache(maxsize=8)
def fractal_components(spec: FractalSpec = FractalSpec()) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Means (K, 2), covariances (K, 2, 2), weights (K,) and class (K,) of every Gaussian, normalised so that
    the component means of both classes have zero mean and RMS coordinate spec.scale (a fixed affine map)."""
    means, covs, weights, labels = [], [], [], []
    for cls in (0, 1):
        for x0, y0, length, angle in branches(spec, cls):
            u = torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)
            rot = torch.stack([u, torch.stack([-u[1], u[0]])], dim=1)  # columns: along, across
            base = torch.diag(torch.tensor([(spec.along * length) ** 2, (spec.across * spec.trunk_length) ** 2],
                                           dtype=torch.float64))
            cov = rot @ base @ rot.T  # the base covariance rotated to the branch's orientation
            for i in range(spec.gaussians_per_branch):
                frac = (i + 0.5) / spec.gaussians_per_branch  # evenly along the branch
                means.append(torch.tensor([x0, y0], dtype=torch.float64) + frac * length * u)
                covs.append(cov)
                weights.append(length)  # mass proportional to length: even density along the tree
                labels.append(cls)
    m, c = torch.stack(means), torch.stack(covs)
    center = m.mean(dim=0)
    scale = (m - center).pow(2).mean().sqrt() / spec.scale
    w = torch.tensor(weights, dtype=torch.float64)
    lab = torch.tensor(labels)
    for cls in (0, 1):
        w[lab == cls] /= w[lab == cls].sum()
    return (m - center) / scale, c / scale**2, w, lab


def fractal2d(n_per_class: int, seed: int = 0, spec: FractalSpec = FractalSpec()) -> tuple[Tensor, Tensor]:
    """(x (2n, 2) float32, y (2n,) int64): n points per class from the two fractal trees, shuffled; seeded."""
    n = _check_n(n_per_class)
    if isinstance(spec.depth, bool) or not isinstance(spec.depth, int) or not 0 <= spec.depth <= 10:
        raise ValueError(f"depth must be an int in [0, 10], got {spec.depth!r}")
    means, covs, weights, labels = fractal_components(spec)
    g = torch.Generator().manual_seed(int(seed))
    chol = torch.linalg.cholesky(covs)
    xs, ys = [], []
    for cls in (0, 1):
        idx = torch.nonzero(labels == cls).squeeze(1)
        pick = idx[torch.multinomial(weights[idx], n, replacement=True, generator=g)]
        z = torch.randn(n, 2, 1, generator=g, dtype=torch.float64)
        xs.append(means[pick] + (chol[pick] @ z).squeeze(-1))
        ys.append(torch.full((n,), cls, dtype=torch.long))
    return _shuffle(torch.cat(xs).float(), torch.cat(ys), g)


def class_log_density(x: Tensor, data: str) -> Tensor:
    """log p(x | y) for y = 0, 1 under the true generating mixture, (N, 2) float64: the exact Bayes classifier
    (argmax) and a fidelity measure for generated points ('gaussian1d' and 'fractal' with default specs)."""
    pts = x.detach().to("cpu", torch.float64)
    if data == "gaussian1d":
        spec = MixtureSpec()
        m = torch.tensor(spec.means, dtype=torch.float64)
        z = (pts.reshape(-1, 1) - m) / spec.std
        return -0.5 * z**2 - math.log(spec.std * math.sqrt(2 * math.pi))
    if data != "fractal":
        raise ValueError(f"unknown data set {data!r}; known point data sets: 'gaussian1d', 'fractal'")
    means, covs, weights, labels = fractal_components(FractalSpec())
    prec = torch.linalg.inv(covs)
    const = weights.log() - 0.5 * torch.logdet(covs) - math.log(2 * math.pi)
    out = []
    for c in (0, 1):
        sel = labels == c
        m, p, k = means[sel], prec[sel], const[sel]
        rows = []
        for chunk in pts.split(4096):  # (n, K) at a time; the quadratic form written out for 2x2 precisions
            dx, dy = chunk[:, :1] - m[:, 0], chunk[:, 1:] - m[:, 1]
            q = p[:, 0, 0] * dx * dx + 2 * p[:, 0, 1] * dx * dy + p[:, 1, 1] * dy * dy
            rows.append(torch.logsumexp(k - 0.5 * q, dim=1))
        out.append(torch.cat(rows))
    return torch.stack(out, dim=1)


DATASETS = ("gaussian1d", "fractal", "fmnist")


def point_dataset(name: str, n_per_class: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A point data set by name: 'gaussian1d' or 'fractal' (Fashion-MNIST is an image set: doodl.data)."""
    if name == "gaussian1d":
        return mixture1d(n_per_class, seed)
    if name == "fractal":
        return fractal2d(n_per_class, seed)
    raise ValueError(f"unknown data set {name!r}; known point data sets: 'gaussian1d', 'fractal' (images: 'fmnist')")
