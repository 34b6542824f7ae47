"""Pure metrics against hand computations: CLIP score (Hessel et al. 2021, eq. 1) and the Fréchet distance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from doodl.evaluation import clip_score, frechet_distance, gaussian_stats


def test_clip_score_equals_a_hand_computation_on_fixed_embeddings():
    image = torch.tensor([[3.0, 4.0], [1.0, 0.0], [2.0, 0.0], [0.5, 0.5]])
    text = torch.tensor([[4.0, 3.0], [-1.0, 0.0], [0.0, 5.0], [7.0, 7.0]])
    # cos: (12 + 12) / (5 * 5) = 0.96; -1 (clipped to 0); 0; 1
    expected = torch.tensor([96.0, 0.0, 0.0, 100.0], dtype=torch.float64)
    got = clip_score(image, text)
    assert got.dtype == torch.float64 and got.shape == (4,)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(clip_score(image, text, weight=2.5), expected * 0.025)  # the paper's w = 2.5


def test_clip_score_ignores_embedding_norms_and_pairs_rows():
    g = torch.Generator().manual_seed(0)
    image, text = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    scaled = clip_score(image * torch.tensor([[1.0], [2.0], [3.0], [4.0], [5.0]]), 7 * text)
    torch.testing.assert_close(scaled, clip_score(image, text))
    pairs = zip(image.double(), text.double(), strict=True)
    by_hand = [100 * max(float(i @ t) / float(i.norm() * t.norm()), 0.0) for i, t in pairs]
    torch.testing.assert_close(clip_score(image, text), torch.tensor(by_hand, dtype=torch.float64))


@pytest.mark.parametrize("shapes", [((2, 4), (3, 4)), ((2, 4), (2, 5)), ((4,), (4,))])
def test_clip_score_rejects_mismatched_shapes(shapes):
    a, b = torch.ones(shapes[0]), torch.ones(shapes[1])
    with pytest.raises(ValueError, match="image_embeds and text_embeds"):
        clip_score(a, b)


def test_frechet_distance_in_one_dimension_by_hand():
    a = np.array([[0.0], [2.0]])  # mean 1, unbiased variance 2
    b = np.array([[1.0], [5.0]])  # mean 3, unbiased variance 8
    # (1 - 3)^2 + 2 + 8 - 2 sqrt(2 * 8) = 4 + 10 - 8
    assert frechet_distance(a, b) == pytest.approx(6.0, abs=1e-9)
    assert frechet_distance(torch.tensor(a), torch.tensor(b)) == pytest.approx(6.0, abs=1e-9)


def test_frechet_distance_of_a_shift_is_its_squared_length():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 3, generator=g, dtype=torch.float64)
    shift = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-6)
    assert frechet_distance(x, 2 * x) > 0 and math.isfinite(frechet_distance(x[:2], x[2:4]))


def test_gaussian_stats_and_bad_features():
    mu, cov = gaussian_stats(torch.tensor([[1.0, 0.0], [3.0, 2.0]]))
    np.testing.assert_allclose(mu, [2.0, 1.0])
    np.testing.assert_allclose(cov, [[2.0, 2.0], [2.0, 2.0]])
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_stats(torch.ones(1, 3))
    with pytest.raises(ValueError, match="non-finite"):
        gaussian_stats(torch.tensor([[1.0], [float("nan")]]))
    with pytest.raises(ValueError, match="feature dimensions differ"):
        frechet_distance(torch.randn(4, 2), torch.randn(4, 3))
