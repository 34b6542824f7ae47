"""Rectified-flow postprocessing: solvers against known answers, the flow learns to move samples onto reals."""

from __future__ import annotations

import math

import pytest
import torch

from doodl.evaluation import sliced_wasserstein
from doodl.lab.nets import PointMLP
from doodl.lab.postprocess import FlowConfig, dopri5, euler, postprocess, train_flow
from doodl.lab.train import TrainConfig


def test_euler_and_dopri5_known_answers():
    z = torch.tensor([[1.0, -2.0]])
    const = lambda x, s: torch.full_like(x, 0.5)  # noqa: E731
    torch.testing.assert_close(euler(const, z, 3), z + 0.5)
    growth = lambda x, s: x  # dz/ds = z  ->  z(1) = e z(0)  # noqa: E731
    torch.testing.assert_close(dopri5(growth, z.double()), math.e * z.double(), rtol=1e-4, atol=1e-4)
    assert abs(float(euler(growth, z, 1000)[0, 0]) - math.e) < 2e-3
    time_dep = lambda x, s: torch.full_like(x, 2.0) * torch.as_tensor(s, dtype=x.dtype)  # z(1) = z(0) + 1  # noqa: E731
    torch.testing.assert_close(dopri5(time_dep, z.double()), z.double() + 1, rtol=1e-5, atol=1e-5)


def test_flow_pulls_generated_points_onto_the_real_set():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(2000, 2, generator=g) * 0.3
    labels_r = (real[:, 0] > 0).long()
    real = real + torch.stack([labels_r * 2.0 - 1.0, torch.zeros_like(labels_r, dtype=torch.float32)], dim=1)
    gen_labels = torch.arange(400) % 2
    generated = torch.randn(400, 2, generator=g) * 0.3 + torch.tensor([0.0, 1.5])  # off the data, both classes
    torch.manual_seed(0)
    net = PointMLP(2, 2, width=48, blocks=2)
    losses = train_flow(net, generated, real, FlowConfig(k=5, train=TrainConfig(steps=300, batch=256, lr=3e-3)),
                        gen_labels, labels_r)
    assert losses[-1] < losses[0]
    after = postprocess(net, generated, gen_labels, "euler", 10)
    after_ode = postprocess(net, generated, gen_labels, "dopri5")
    for c in (0, 1):
        sw = lambda a: sliced_wasserstein(a, real[labels_r == c], generator=torch.Generator().manual_seed(0))  # noqa: E731
        before_d = sw(generated[gen_labels == c])
        assert sw(after[gen_labels == c]) < 0.5 * before_d
        assert sw(after_ode[gen_labels == c]) < 0.5 * before_d
        # each class goes to its own side
        assert float(after[gen_labels == c, 0].mean()) * (2 * c - 1) > 0.5


def test_bad_input():
    with pytest.raises(ValueError, match="k must be a positive int"):
        FlowConfig(k=0)
    with pytest.raises(ValueError, match="solver"):
        postprocess(PointMLP(2), torch.zeros(2, 2), solver="rk4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="steps"):
        euler(lambda x, s: x, torch.zeros(1, 2), 0)
    with pytest.raises(ValueError, match="labels for both"):
        train_flow(PointMLP(2, 2), torch.zeros(4, 2), torch.zeros(30, 2), FlowConfig(k=2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="larger than the real set"):
        train_flow(PointMLP(2), torch.zeros(4, 2), torch.zeros(3, 2), FlowConfig(k=5))
