"""BDIA (ECCV 2024): one network call per step, exact inversion of the (z_{N-1}, z_N) pair on VP and flow steps."""

from __future__ import annotations

import pytest
import torch

from doodl.samplers import make_steps
from doodl.samplers.bdia import bdia_invert, bdia_sample
from doodl.schedules import FlowSchedule, ddim_timesteps

from doodl.testing.flow import ToyVelocity
from doodl.testing.memory import saved_bytes


def noise(shape=(2, 4, 6, 6), seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class Counting:
    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, x, t):
        self.calls += 1
        return self.model(x, t)


@pytest.mark.parametrize("gamma, T", [(0.0, 20), (0.5, 10)])
def test_bdia_round_trip_vp_float64(model64, sd_alphas, gamma, T):
    steps = make_steps(ddim_timesteps(T), sd_alphas)
    xT = torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    counted = Counting(model64)
    z_prev, z0 = bdia_sample(counted, xT, steps, gamma)
    assert counted.calls == T  # one network call per step (EDICT makes two)
    assert (z0 - xT).abs().max() > 0.1
    zT, z1 = bdia_invert(model64, z_prev, z0, steps, gamma)
    assert (zT - xT).abs().max() < 1e-9
    again = bdia_sample(model64, zT, steps, gamma, z_next=z1)  # the inverted pair regenerates the sample
    assert (again[1] - z0).abs().max() < 1e-9


@pytest.mark.parametrize("n", [4, 28])
def test_bdia_round_trip_flow_float64(n):
    steps, model, xT = FlowSchedule(shift=3.0).steps(n), ToyVelocity(), noise()
    z_prev, z0 = bdia_sample(model, xT, steps, 0.0)
    zT, _ = bdia_invert(model, z_prev, z0, steps, 0.0)
    assert (zT - xT).abs().max() < 1e-9


def test_bdia_inversion_amplifies_rounding_by_one_over_one_minus_gamma(model64, sd_alphas):
    # the inverse divides by (1 - gamma) at every step: with gamma = 0.5 rounding errors double per step
    def err(gamma, T):
        steps = make_steps(ddim_timesteps(T), sd_alphas)
        xT = torch.randn(1, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        zp, z0 = bdia_sample(model64, xT, steps, gamma)
        return (bdia_invert(model64, zp, z0, steps, gamma)[0] - xT).abs().max().item()

    assert err(0.0, 30) < 1e-11
    assert err(0.5, 30) > 1e3 * err(0.5, 10)


def test_bdia_first_steps_are_ddim_and_gamma_bounds(model64, sd_alphas):
    from doodl.samplers import ddim_sample

    steps = make_steps(ddim_timesteps(10), sd_alphas)
    xT = torch.randn(1, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    _, z1 = bdia_sample(model64, xT, steps[:1], 0.5)
    torch.testing.assert_close(z1, ddim_sample(model64, xT, steps[:1]))
    # with gamma near 1 BDIA tends to DDIM (gamma = 1 is DDIM exactly, and not invertible)
    near = bdia_sample(model64, xT, steps, 1 - 1e-12)[1]
    torch.testing.assert_close(near, ddim_sample(model64, xT, steps), rtol=1e-9, atol=1e-9)
    for bad in (1.0, -0.1, "0.5"):
        with pytest.raises(ValueError, match="gamma"):
            bdia_sample(model64, xT, steps, bad)  # type: ignore[arg-type]


def test_bdia_naive_gradient_reaches_xT(model64, sd_alphas):
    steps = make_steps(ddim_timesteps(5), sd_alphas)
    x = torch.randn(1, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    _, z0 = bdia_sample(model64, x, steps, 0.5, grad="naive")
    (g,) = torch.autograd.grad(z0.square().sum(), x)
    assert torch.isfinite(g).all() and g.abs().max() > 0


@pytest.mark.parametrize("flow", [False, True])
def test_bdia_reversible_gradient_equals_naive(model64, sd_alphas, flow):
    if flow:
        steps, model, x0 = FlowSchedule(shift=3.0).steps(28), ToyVelocity(), noise()
    else:
        steps, model = make_steps(ddim_timesteps(12), sd_alphas), model64
        x0 = torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))

    def grad(mode):
        x = x0.clone().requires_grad_(True)
        zp, z = bdia_sample(model, x, steps, 0.0, grad=mode)
        w = torch.linspace(-1, 1, z.numel(), dtype=z.dtype).reshape(z.shape)
        return torch.autograd.grad((z.sin() * w).sum() + 0.5 * (zp**2).sum(), x)[0]

    ref = grad("naive")
    g = grad("reversible")
    assert ref.abs().max() > 0 and ((g - ref).norm() / ref.norm()).item() < 1e-8


def test_bdia_reversible_memory_flat_in_T():
    def saved(T, mode):
        x = noise((1, 4, 6, 6)).requires_grad_(True)
        total, (zp, z) = saved_bytes(lambda: bdia_sample(ToyVelocity(), x, FlowSchedule(shift=3.0).steps(T), 0.0, grad=mode))
        (zp.sum() + z.sum()).backward()
        return total

    assert saved(28, "reversible") <= 1.10 * saved(4, "reversible") < saved(4, "naive")
    assert saved(28, "naive") > 4 * saved(4, "naive")


def test_bdia_reversible_gradient_costs_half_of_edict(model64, sd_alphas):
    import doodl

    steps = make_steps(ddim_timesteps(6), sd_alphas)
    x0 = torch.randn(1, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    counts = {}
    for name in ("edict", "bdia"):
        counted = Counting(model64)
        x = x0.clone().requires_grad_(True)
        if name == "edict":
            a, b = doodl.edict_sample(counted, x, x, steps, grad="reversible")
        else:
            a, b = bdia_sample(counted, x, steps, 0.0, grad="reversible")
        torch.autograd.grad(a.sum() + b.sum(), x)
        counts[name] = counted.calls
    assert counts == {"edict": 4 * 6, "bdia": 2 * 6}  # network evaluations, forward + backward: half
