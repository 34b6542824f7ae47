"""Improved precision and recall with k-NN balls (Kynkäänniemi et al. 2019) on point sets with known answers."""

from __future__ import annotations

import pytest
import torch

from doodl.lab.fidelity import in_support, knn_radii, per_class_precision_recall, precision_recall


def _uniform(n: int, seed: int, low=(0.0, 0.0), high=(1.0, 1.0)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    lo, hi = torch.tensor(low), torch.tensor(high)
    return lo + (hi - lo) * torch.rand(n, 2, generator=g)


def test_knn_radii_known_answer():
    pts = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    torch.testing.assert_close(knn_radii(pts, 1), torch.tensor([1.0, 1.0, 2.0, 4.0], dtype=torch.float64))
    torch.testing.assert_close(knn_radii(pts, 2), torch.tensor([3.0, 2.0, 3.0, 6.0], dtype=torch.float64))


def test_identical_sets_score_one():
    x = _uniform(500, 0)
    pr = precision_recall(x, x.clone(), k=3)
    assert pr.precision == 1.0 and pr.recall == 1.0 and pr.k == 3


def test_far_apart_sets_score_zero():
    a, b = _uniform(300, 0), _uniform(300, 1) + 100.0
    pr = precision_recall(a, b)
    assert pr.precision == 0.0 and pr.recall == 0.0


def test_half_coverage_gives_recall_about_half():
    real = _uniform(4000, 0)
    gen = _uniform(2000, 1, high=(0.5, 1.0))  # on the support, but only its left half
    pr = precision_recall(gen, real, k=3)
    assert pr.precision > 0.97
    assert 0.45 < pr.recall < 0.56


def test_in_support_and_per_class():
    support = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    inside = in_support(torch.tensor([[0.5, 0.5], [5.0, 5.0]]), support, k=1)
    assert inside.tolist() == [True, False]
    real = torch.cat([_uniform(400, 0), _uniform(400, 1) + 10])
    real_y = torch.arange(2).repeat_interleave(400)
    gen_y = torch.arange(2).repeat_interleave(200)
    gen = torch.cat([_uniform(200, 2), _uniform(200, 3)])  # class 1's points sit on class 0's support
    out = per_class_precision_recall(gen, gen_y, real, real_y)
    assert out[0].precision > 0.95 and out[1].precision == 0.0


@pytest.mark.parametrize("call,message", [
    (lambda: precision_recall(torch.zeros(5, 2), torch.zeros(5, 2), k=0), "k must be a positive int"),
    (lambda: precision_recall(torch.zeros(5, 2), torch.zeros(3, 2), k=3), "real needs more than k = 3"),
    (lambda: precision_recall(torch.zeros(5, 2), torch.zeros(5, 3), k=2), "differ in dimension"),
    (lambda: precision_recall(torch.zeros(5), torch.zeros(5, 2), k=2), "must be a \\(N, D\\) tensor"),
    (lambda: precision_recall(torch.full((5, 2), float("nan")), torch.zeros(5, 2), k=2), "non-finite"),
    (lambda: in_support(torch.zeros(0, 2), torch.zeros(5, 2), k=2), "query needs at least one point"),
    (lambda: per_class_precision_recall(torch.zeros(5, 2), torch.zeros(4), torch.zeros(5, 2), torch.zeros(5)),
     "one entry per point"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
