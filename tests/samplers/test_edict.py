"""EDICT: exact inversion (eq. 6 undoes eq. 5), gradient modes agree, bad input is refused."""

from __future__ import annotations

import pytest
import torch

import doodl
from doodl.samplers import edict_inverse_step, edict_step, make_steps


def noise(shape=(2, 3, 8, 8), seed=0, dtype=torch.float64):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_single_step_inverse(model64, sd_alphas):
    step = make_steps([500, 400], sd_alphas)[0]
    x, y = noise(seed=1), noise(seed=2)
    xn, yn = edict_step(model64, x, y, step, 0.93)
    xr, yr = edict_inverse_step(model64, xn, yn, step, 0.93)
    assert (xr - x).abs().max() < 1e-12 and (yr - y).abs().max() < 1e-12


@pytest.mark.parametrize("leapfrog", [True, False])
def test_round_trip_float64_50_steps(model64, sd_alphas, leapfrog):
    ts = make_steps(doodl.ddim_timesteps(50), sd_alphas)
    xT = noise()
    x0, y0 = doodl.edict_sample(model64, xT, xT.clone(), ts, grad="none", leapfrog=leapfrog)
    assert (x0 - xT).abs().max() > 0.1  # the chain really moved
    xr, yr = doodl.edict_invert(model64, x0, y0, ts, leapfrog=leapfrog)
    assert max((xr - xT).abs().max().item(), (yr - xT).abs().max().item()) < 1e-9


def test_leapfrog_changes_the_chain(model64, sd_alphas):
    ts = make_steps(doodl.ddim_timesteps(6), sd_alphas)
    xT = noise()
    a = doodl.edict_sample(model64, xT, xT, ts, grad="none", leapfrog=True)
    b = doodl.edict_sample(model64, xT, xT, ts, grad="none", leapfrog=False)
    assert (a[0] - b[0]).abs().max() > 1e-6


@pytest.mark.parametrize("mix", [1.0, 0.5])
def test_round_trip_other_mix(model64, sd_alphas, mix):
    ts = make_steps(doodl.ddim_timesteps(10), sd_alphas)
    xT, yT = noise(seed=5), noise(seed=6)
    x0, y0 = doodl.edict_sample(model64, xT, yT, ts, mix=mix, grad="none")
    xr, yr = doodl.edict_invert(model64, x0, y0, ts, mix=mix)
    assert max((xr - xT).abs().max().item(), (yr - yT).abs().max().item()) < 1e-9


def test_first_step_of_x_is_ddim(model64, sd_alphas):
    # From x = y, eq. 5.1 is a DDIM step of x; the mixing (5.3) then pulls x toward y_inter.
    ts = make_steps([600], sd_alphas, final_alpha_cumprod=float(sd_alphas[300]))
    xT = noise()
    x1, _ = doodl.edict_sample(model64, xT, xT, ts, mix=1.0, grad="none")
    ref = doodl.ddim_sample(model64, xT, ts)
    torch.testing.assert_close(x1, ref)


def test_roundtrip_error_reports_precisions(unet64, sd_alphas):
    m = lambda x, t: unet64(x, t).sample  # noqa: E731
    steps = make_steps(doodl.ddim_timesteps(20), sd_alphas)
    r64 = doodl.roundtrip_error(m, (1, 3, 8, 8), steps)
    assert r64.max_abs_error < 1e-9 and r64.dtype == "float64"
    unet32 = unet64.float()
    m32 = lambda x, t: unet32(x, t).sample  # noqa: E731
    r32 = doodl.roundtrip_error(m32, (1, 3, 8, 8), steps, dtype=torch.float32)
    assert r32.dtype == "float32" and r32.max_abs_error > r64.max_abs_error
    # float64 coupling around a float32 network: exact again (the network is a fixed function).
    mixed = doodl.roundtrip_error(m32, (1, 3, 8, 8), steps, dtype=torch.float64, model_dtype=torch.float32)
    assert mixed.model_dtype == "float32" and mixed.max_abs_error < 1e-9


@pytest.mark.parametrize("bad, match", [
    (dict(yT=noise((2, 3, 8, 4))), "same shape"),
    (dict(mix=0.0), "mix"),
    (dict(mix=1.5), "mix"),
    (dict(xT=noise().fill_(float("nan"))), "xT contains non-finite"),
    (dict(yT=noise().float()), "dtype"),
    (dict(grad="magic"), "grad must be one of"),
    (dict(steps=[]), "empty"),
    (dict(steps=[500, 250]), "Step objects"),
    (dict(steps=torch.tensor([500, 250])), "list of Step"),
])
def test_bad_input(model64, sd_alphas, bad, match):
    kw = dict(xT=noise(), yT=noise(), steps=make_steps([500, 250, 0], sd_alphas))
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        doodl.edict_sample(model64, **kw)


@pytest.mark.parametrize("timesteps, match", [
    ([100, 200], "strictly descending"),
    ([900, 900, 10], "strictly descending"),
    ([1000, 10], r"\[0, 999\]"),
    ([50, -1], r"\[0, 999\]"),
    ([], "empty"),
    ([50.0, 10.0], "integers"),
])
def test_bad_timesteps(sd_alphas, timesteps, match):
    with pytest.raises(ValueError, match=match):
        make_steps(timesteps, sd_alphas)


def test_invert_bad_input(model64, sd_alphas):
    with pytest.raises(ValueError, match="x0 and y0 must have the same shape"):
        doodl.edict_invert(model64, noise(), noise((1, 3, 8, 8)), make_steps([10, 0], sd_alphas))
    with pytest.raises(ValueError, match="alphas_cumprod"):
        make_steps([10, 0], torch.ones(2, 2))
