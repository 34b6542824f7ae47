"""DDIM and schedules against diffusers' DDIMScheduler."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler

import doodl
from doodl.samplers import ddim_invert, ddim_sample, ddim_step, make_steps
from doodl.schedules import as_eps_model, make_alphas_cumprod, v_to_eps


def sd_scheduler(**kw) -> DDIMScheduler:
    cfg = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
               set_alpha_to_one=False, steps_offset=1)
    cfg.update(kw)
    return DDIMScheduler(**cfg)


@pytest.mark.parametrize("n", [1, 7, 50, 999])
@pytest.mark.parametrize("offset", [0, 1])
def test_timesteps_match_diffusers(n, offset):
    s = sd_scheduler(steps_offset=offset)
    s.set_timesteps(n)
    assert doodl.ddim_timesteps(n, 1000, offset) == s.timesteps.tolist()


def test_alphas_match_diffusers():
    s = sd_scheduler()
    torch.testing.assert_close(make_alphas_cumprod("scaled_linear").float(), s.alphas_cumprod, rtol=1e-6, atol=1e-7)
    lin = DDIMScheduler(beta_schedule="linear")
    torch.testing.assert_close(make_alphas_cumprod("linear").float(), lin.alphas_cumprod, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_ddim_step_matches_diffusers(model64, prediction_type):
    s = sd_scheduler(prediction_type=prediction_type)
    s.set_timesteps(10)
    ac = s.alphas_cumprod.double()
    model = as_eps_model(model64, ac, prediction_type)
    steps = make_steps(s.timesteps.tolist(), ac, final_alpha_cumprod=None)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for step, t in zip(steps, s.timesteps):
        ours = ddim_step(model, x, step)
        out = model64(x, int(t))
        ref = s.step(out, t, x).prev_sample
        # diffusers keeps alphas_cumprod in float32: agree to 1e-6, absolute and relative.
        torch.testing.assert_close(ours, ref.double(), rtol=1e-6, atol=1e-6)
        x = ref.double()


def test_ddim_sample_matches_scheduler_loop(model64):
    s = sd_scheduler()
    s.set_timesteps(8)
    xT = torch.randn(1, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x = xT
    for t in s.timesteps:
        x = s.step(model64(x, int(t)), t, x).prev_sample.double()
    ours = ddim_sample(model64, xT, make_steps(s.timesteps.tolist(), s.alphas_cumprod.double(), final_alpha_cumprod=None))
    torch.testing.assert_close(ours, x, rtol=0, atol=1e-6)


def test_ddim_inversion_is_only_approximate(model64, sd_alphas):
    ts = make_steps(doodl.ddim_timesteps(10), sd_alphas)
    xT = torch.randn(1, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    back = ddim_invert(model64, ddim_sample(model64, xT, ts), ts)
    err = (back - xT).abs().max().item()
    assert 1e-6 < err < 10  # finite, but far from EDICT's exactness


def test_v_to_eps_identity():
    # v = sqrt(a) eps - sqrt(1-a) x0 and x = sqrt(a) x0 + sqrt(1-a) eps  =>  v_to_eps recovers eps.
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g, dtype=torch.float64)
    a = torch.tensor(0.3, dtype=torch.float64)
    x = a.sqrt() * x0 + (1 - a).sqrt() * eps
    v = a.sqrt() * eps - (1 - a).sqrt() * x0
    torch.testing.assert_close(v_to_eps(v, x, a), eps)


def test_schedule_bad_input():
    with pytest.raises(ValueError, match="num_inference_steps"):
        doodl.ddim_timesteps(0)
    with pytest.raises(ValueError, match="num_inference_steps"):
        doodl.ddim_timesteps(2000)
    with pytest.raises(ValueError, match="schedule kind"):
        make_alphas_cumprod("cosine")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prediction_type"):
        as_eps_model(lambda x, t: x, make_alphas_cumprod(), "sample")  # type: ignore[arg-type]
