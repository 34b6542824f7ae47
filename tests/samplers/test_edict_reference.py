"""EDICT's leapfrog convention pinned against a hand-written loop in the references' order, and exactness at odd T.

The reference loop below is written from the EDICT authors' `coupled_stablediffusion` (salesforce/EDICT,
edict_functions.py) and DOODL's `doodl.py`: at step i the chain (i % 2) is updated first, from the other one;
then the other is updated from the new value; then the mixing layer ALWAYS mixes x first. The DDIM update uses
their formula (alpha quotient form), not doodl's Step coefficients, so the comparison checks the arithmetic too.
"""

from __future__ import annotations

import math

import pytest
import torch

import doodl
from doodl.samplers import NonFiniteError


def reference_ddim(alpha_t: float, alpha_prev: float, eps: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
    """The EDICT authors' forward_step: sample/q - (1/q) sqrt(1 - a_t) eps + sqrt(1 - a_prev) eps, q = sqrt(a_t/a_prev)."""
    q = math.sqrt(alpha_t / alpha_prev)
    return sample / q - math.sqrt(1 - alpha_t) / q * eps + math.sqrt(1 - alpha_prev) * eps


def reference_edict(model, xT, yT, timesteps, alphas, final_alpha, p=0.93, leapfrog=True):
    """EDICT as the references compute it (generative direction)."""
    pair = [xT.clone(), yT.clone()]
    for i, t in enumerate(timesteps):
        a_t = float(alphas[t])
        a_prev = float(alphas[timesteps[i + 1]]) if i + 1 < len(timesteps) else final_alpha
        for k in range(2):
            base = (k + i % 2) % 2 if leapfrog else k
            other = (base + 1) % 2
            eps = model(pair[other], t)
            pair[base] = reference_ddim(a_t, a_prev, eps, pair[base])
        x, y = pair
        x = p * x + (1 - p) * y  # always x first
        y = (1 - p) * x + p * y
        pair = [x, y]
    return pair[0], pair[1]


def toy_denoiser(x: torch.Tensor, t: int) -> torch.Tensor:
    """A nonlinear, t-dependent toy eps (nothing learned): enough to make the update order matter."""
    s = t / 1000.0
    return torch.tanh(1.3 * x + s) * (0.5 + s) + 0.1 * x.roll(1, dims=-1)


def noise(shape=(2, 3, 4, 4), seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("leapfrog", [True, False])
def test_three_steps_equal_the_reference_loop(sd_alphas, leapfrog):
    ts = [900, 600, 300]
    xT, yT = noise(seed=1), noise(seed=2)
    ref = reference_edict(toy_denoiser, xT, yT, ts, sd_alphas, 1.0, leapfrog=leapfrog)
    got = doodl.edict_sample(toy_denoiser, xT, yT, ts, sd_alphas, grad="none", leapfrog=leapfrog)
    for g, r in zip(got, ref):
        assert rel(g, r) < 1e-15


def test_yesterdays_mixing_swap_is_not_what_we_compute(sd_alphas):
    # Swapping the mixing order at odd steps (doodl before issue 13) gives a visibly different chain.
    ts = [900, 600, 300]
    xT, yT = noise(seed=1), noise(seed=2)
    x, y = xT, yT
    for i, step in enumerate(doodl.samplers.make_steps(ts, sd_alphas)):
        if i % 2:
            y, x = doodl.samplers.edict_step(toy_denoiser, y, x, step, 0.93)
        else:
            x, y = doodl.samplers.edict_step(toy_denoiser, x, y, step, 0.93)
    got = doodl.edict_sample(toy_denoiser, xT, yT, ts, sd_alphas, grad="none")
    assert rel(got[0], x) > 1e-6


def test_fifty_steps_with_cfg_on_tiny_sd_equal_the_reference():
    from diffusers import DDIMScheduler

    from doodl.backends import StableDiffusionBackend
    from doodl.testing import tiny_sd_pipeline

    pipe = tiny_sd_pipeline()
    backend = StableDiffusionBackend.from_pipeline(pipe, dtype="float64")
    model = backend.denoiser(prompt="a cat", guidance_scale=7.5)
    sched = DDIMScheduler.from_config(pipe.scheduler.config)
    sched.set_timesteps(50)
    ts = sched.timesteps.tolist()
    alphas, final = sched.alphas_cumprod.double(), float(sched.final_alpha_cumprod)
    xT = torch.randn((1, *backend.latent_shape), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        ref = reference_edict(model, xT, xT, ts, alphas, final)
        got = doodl.edict_sample(model, xT, xT.clone(), ts, alphas, grad="none", final_alpha_cumprod=final)
    assert (got[0] - xT).abs().max() > 0.1  # the chain moved
    for g, r in zip(got, ref):
        assert rel(g, r) < 1e-12


@pytest.mark.parametrize("T", [1, 3, 7, 8])
def test_odd_and_even_step_counts_invert_exactly(model64, sd_alphas, T):
    ts = doodl.ddim_timesteps(T)
    xT, yT = noise((1, 3, 8, 8), seed=3), noise((1, 3, 8, 8), seed=4)
    x0, y0 = doodl.edict_sample(model64, xT, yT, ts, sd_alphas, grad="none")
    xr, yr = doodl.edict_invert(model64, x0, y0, ts, sd_alphas)
    assert max(rel(xr, xT), rel(yr, yT)) < 1e-12


@pytest.mark.parametrize("grad", ["none", "naive", "checkpoint", "reversible"])
def test_callback_is_called_in_every_mode(sd_alphas, grad):
    seen = []
    xT = noise(seed=5).requires_grad_(grad != "none")
    x0, y0 = doodl.edict_sample(toy_denoiser, xT, xT, [900, 600, 300], sd_alphas, grad=grad,
                                callback=lambda d: seen.append((d["i"], d["t"], d["x"].detach().clone())))
    assert [(i, t) for i, t, _ in seen] == [(0, 900), (1, 600), (2, 300)]
    torch.testing.assert_close(seen[-1][2], x0.detach(), rtol=0, atol=0)


def nan_after(t_bad: int):
    def model(x: torch.Tensor, t: int) -> torch.Tensor:
        out = toy_denoiser(x, t)
        return out.fill_(float("nan")) if t == t_bad else out
    return model


@pytest.mark.parametrize("grad", ["none", "naive", "checkpoint", "reversible"])
def test_non_finite_model_output_names_the_step(sd_alphas, grad):
    xT = noise(seed=6).requires_grad_(grad != "none")
    with pytest.raises(NonFiniteError, match=r"step 1 \(t=600\)"):
        doodl.edict_sample(nan_after(600), xT, xT, [900, 600, 300], sd_alphas, grad=grad)


def test_non_finite_in_ddim_and_inversion_names_the_step(sd_alphas):
    with pytest.raises(NonFiniteError, match=r"step 2 \(t=300\)"):
        doodl.ddim_sample(nan_after(300), noise(), [900, 600, 300], sd_alphas)
    with pytest.raises(NonFiniteError, match=r"inverse step 0 \(t=900\)"):
        doodl.edict_invert(nan_after(900), noise(), noise(seed=1), [900, 600, 300], sd_alphas)
