"""Gradient modes: reversible and checkpoint equal naive autograd; reversible memory does not grow with T."""

from __future__ import annotations

import pytest
import torch

import doodl
from doodl.samplers import make_steps
from doodl.testing.memory import LiveSaved, weight_storages
from doodl.testing.memory import saved_bytes as count_saved


def loss_fn(x0: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    w = torch.linspace(-1, 1, x0.numel(), dtype=x0.dtype).reshape(x0.shape)
    return (x0.sin() * w).sum() + 0.5 * (y0**2).sum()


def grad_of(model, xT, ts, mode, **kw):
    x = xT.clone().requires_grad_(True)
    x0, y0 = doodl.edict_sample(model, x, x, ts, grad=mode, **kw)
    (g,) = torch.autograd.grad(loss_fn(x0, y0), x)
    return g


@pytest.mark.parametrize("leapfrog", [True, False])
def test_modes_agree_float64(model64, sd_alphas, leapfrog):
    ts = make_steps(doodl.ddim_timesteps(12), sd_alphas)
    xT = torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ref = grad_of(model64, xT, ts, "naive", leapfrog=leapfrog)
    assert ref.abs().max() > 0
    for mode in ("reversible", "checkpoint"):
        g = grad_of(model64, xT, ts, mode, leapfrog=leapfrog)
        assert ((g - ref).norm() / ref.norm()).item() < 1e-8, mode


def test_gradient_reaches_closed_over_tensor(unet64, sd_alphas):
    # A conditioning tensor the model closes over (like prompt embeddings) gets the same gradient in every mode.
    shift = torch.zeros(1, 3, 1, 1, dtype=torch.float64)

    def grads(mode):
        s = shift.clone().requires_grad_(True)
        model = lambda x, t: unet64(x + s, t).sample  # noqa: E731
        xT = torch.randn(1, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
        x = xT.clone().requires_grad_(True)
        kw = dict(params=[s]) if mode == "reversible" else {}
        x0, y0 = doodl.edict_sample(model, x, x, make_steps(doodl.ddim_timesteps(10), sd_alphas), grad=mode, **kw)
        return torch.autograd.grad(loss_fn(x0, y0), (x, s))

    ref = grads("naive")
    assert ref[1].abs().max() > 0
    for mode in ("reversible", "checkpoint"):
        got = grads(mode)
        for g, r in zip(got, ref):
            assert ((g - r).norm() / r.norm()).item() < 1e-8, mode


def saved_bytes(model, ac, T, mode) -> int:
    """Bytes autograd keeps for the backward pass (packed saved tensors), counted through saved-tensor hooks."""
    xT = torch.randn(1, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    total, (x0, y0) = count_saved(lambda: doodl.edict_sample(model, xT, xT, make_steps(doodl.ddim_timesteps(T), ac), grad=mode))
    (x0.sum() + y0.sum()).backward()
    return total


def test_reversible_memory_constant_in_T(model64, sd_alphas):
    rev5, rev50 = saved_bytes(model64, sd_alphas, 5, "reversible"), saved_bytes(model64, sd_alphas, 50, "reversible")
    naive5, naive50 = saved_bytes(model64, sd_alphas, 5, "naive"), saved_bytes(model64, sd_alphas, 50, "naive")
    assert rev50 <= 1.10 * rev5
    assert 8 <= naive50 / naive5 <= 12  # about linear in T
    assert rev50 < naive5


def peak_during_backward(unet, fn) -> int:
    return LiveSaved(weight_storages(unet)).measure(fn)


def test_reversible_peak_during_backward_is_about_one_network_call(unet64, model64, sd_alphas):
    x = torch.randn(1, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    one_call = peak_during_backward(unet64, lambda: model64(x, 500).sum().backward())

    def chain(T, mode):
        def fn():
            x0, y0 = doodl.edict_sample(model64, x, x, make_steps(doodl.ddim_timesteps(T), sd_alphas), grad=mode)
            (x0.sum() + y0.sum()).backward()
        return peak_during_backward(unet64, fn)

    rev4, rev16 = chain(4, "reversible"), chain(16, "reversible")
    assert rev4 <= 1.6 * one_call and rev16 <= 1.6 * one_call  # one network graph alive at a time
    assert rev16 == rev4  # flat in T
    assert chain(4, "naive") >= 7 * one_call  # the meter does see graphs kept alive (8 network calls here)
