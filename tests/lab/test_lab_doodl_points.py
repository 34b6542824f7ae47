"""DOODL on 2-D points through the project's own optimiser: VectorBackend and a clean classifier's loss."""

from __future__ import annotations

import dataclasses

import torch

from doodl.lab.doodl_points import POINT_DOODL, VectorBackend, classifier_loss, run_doodl_points
from doodl.lab.nets import NoiseAwareClassifier, PointMLP
from doodl.schedules import make_alphas_cumprod


class HalfPlane(torch.nn.Module):
    """A fixed clean classifier: class 1 where x > 0."""

    def forward(self, x, t=0):
        return torch.stack([-4 * x[:, 0], 4 * x[:, 0]], dim=1)


def test_doodl_moves_points_into_the_target_region():
    torch.manual_seed(0)
    ac = make_alphas_cumprod("linear")
    backend = VectorBackend(PointMLP(2, None, width=16, blocks=1), ac, 2)
    assert backend.noise(3, torch.Generator().manual_seed(0)).shape == (3, 2)
    cfg = dataclasses.replace(POINT_DOODL, lr=2.0, grad_clip=0.2)
    out = run_doodl_points(backend, HalfPlane(), 1, list(range(12)), num_steps=5, opt_steps=8, config=cfg)
    res = out.result
    assert res.images.shape == (12, 2)
    assert res.history[-1].mean_loss < res.history[0].mean_loss
    assert float(res.loss.mean()) <= res.history[0].mean_loss
    assert out.paths.path.shape == (6, 12, 2)
    # the EDICT chain from the optimised noise reproduces the returned samples
    torch.testing.assert_close(out.paths.final, res.images, rtol=1e-4, atol=1e-4)
    assert float((res.images[:, 0] > 0).float().mean()) > float((out.initial[:, 0] > 0).float().mean())
    # renormalised: the optimised x_T keeps each seed's initial norm (Gaussian shell, DOODL §4)
    x0 = torch.cat([backend.noise(1, torch.Generator().manual_seed(s)) for s in range(12)])
    torch.testing.assert_close(res.latents.float().norm(dim=1), x0.norm(dim=1), rtol=1e-4, atol=1e-4)  # float64 coupling


def test_classifier_loss_is_per_point_cross_entropy():
    clf = NoiseAwareClassifier(2, 2, "linear")
    pts = torch.randn(5, 2)
    expect = torch.nn.functional.cross_entropy(clf(pts, 0), torch.ones(5, dtype=torch.long), reduction="none")
    torch.testing.assert_close(classifier_loss(clf, 1)(pts), expect)
