"""Toy data generators: shapes, exact class balance, determinism per seed, the fractal's construction."""

from __future__ import annotations

import pytest
import torch

from doodl.lab.data import (FractalSpec, branches, class_log_density, fractal2d, fractal_components, mixture1d,
                            point_dataset)


@pytest.mark.parametrize("make,dim", [(mixture1d, 1), (fractal2d, 2)])
def test_shapes_balance_and_determinism(make, dim):
    x, y = make(300, seed=3)
    assert x.shape == (600, dim) and x.dtype == torch.float32
    assert y.shape == (600,) and y.dtype == torch.long
    assert torch.bincount(y).tolist() == [300, 300]
    x2, y2 = make(300, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = make(300, seed=4)
    assert not torch.equal(x, x3)
    assert torch.isfinite(x).all()
    assert not torch.equal(y[:300], torch.zeros(300, dtype=torch.long))  # shuffled, not class-sorted


def test_mixture_classes_sit_on_their_means():
    x, y = mixture1d(4000, seed=0)
    assert x[y == 0].mean() == pytest.approx(-1.0, abs=0.05)
    assert x[y == 1].mean() == pytest.approx(1.0, abs=0.05)
    assert x[y == 0].std() == pytest.approx(0.5, abs=0.03)


def test_fractal_is_a_depth_6_tree_with_8_gaussians_per_branch():
    spec = FractalSpec()
    assert len(branches(spec, 0)) == 2 ** (spec.depth + 1) - 1 == 127
    means, covs, weights, labels = fractal_components(spec)
    assert means.shape == (2 * 127 * 8, 2) and covs.shape == (2 * 127 * 8, 2, 2)
    assert torch.bincount(labels).tolist() == [127 * 8, 127 * 8]
    for c in (0, 1):
        assert float(weights[labels == c].sum()) == pytest.approx(1.0)
    # every covariance is the base one rotated: symmetric positive definite with the branch as main axis
    assert torch.allclose(covs, covs.transpose(1, 2))
    assert (torch.linalg.eigvalsh(covs) > 0).all()
    # normalised: zero-mean component means with RMS coordinate spec.scale
    assert means.mean(0).abs().max() < 1e-9
    assert float(means.pow(2).mean().sqrt()) == pytest.approx(spec.scale, rel=1e-6)


def test_fractal_classes_are_entangled():
    # Nearest-neighbour labels disagree in a noticeable fraction of points: the trees cross.
    x, y = fractal2d(1000, seed=0)
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    nn_label = y[d.argmin(dim=1)]
    mixed = float((nn_label != y).float().mean())
    assert 0.005 < mixed < 0.3
    # and the classes differ: their means are apart
    assert (x[y == 0].mean(0) - x[y == 1].mean(0)).norm() > 0.5


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="n_per_class"):
        fractal2d(0)
    with pytest.raises(ValueError, match="n_per_class"):
        mixture1d(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown data set 'moons'"):
        point_dataset("moons", 10)
    with pytest.raises(ValueError, match="depth"):
        fractal2d(10, spec=FractalSpec(depth=-1))
    assert point_dataset("fractal", 5)[0].shape == (10, 2)


def test_class_log_density_is_the_true_mixture_density():
    # 1-D: the closed form of a normal density
    x = torch.tensor([[0.0], [1.0]])
    ld = class_log_density(x, "gaussian1d")
    expect = torch.distributions.Normal(torch.tensor([-1.0, 1.0], dtype=torch.float64), 0.5).log_prob(x.double())
    torch.testing.assert_close(ld, expect)
    # 2-D: agrees with torch.distributions' mixture of the same components, an independent implementation
    means, covs, weights, labels = fractal_components(FractalSpec())
    pts, lab = fractal2d(500, seed=1)
    probe = pts[:40].double()
    for c in (0, 1):
        sel = labels == c
        mix = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(weights[sel]),
                                                    torch.distributions.MultivariateNormal(means[sel], covs[sel]))
        torch.testing.assert_close(class_log_density(probe, "fractal")[:, c], mix.log_prob(probe))
    assert float((class_log_density(pts, "fractal").argmax(1) == lab).float().mean()) > 0.85
    with pytest.raises(ValueError, match="unknown data set"):
        class_log_density(pts, "moons")
