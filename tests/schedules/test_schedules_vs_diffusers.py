"""VPSchedule and FlowSchedule against diffusers' DDIMScheduler and FlowMatchEulerDiscreteScheduler (same steps)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, FlowMatchEulerDiscreteScheduler

from doodl.schedules import FlowSchedule, VPSchedule, flux_mu, make_alphas_cumprod

SD = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False)


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("n", [1, 4, 10, 28, 50])
@pytest.mark.parametrize("alpha_one, offset", [(False, 1), (True, 0)])
def test_vp_steps_match_ddim_scheduler(spacing, n, alpha_one, offset):
    s = DDIMScheduler(**SD, timestep_spacing=spacing, set_alpha_to_one=alpha_one, steps_offset=offset)
    s.set_timesteps(n)
    ours = VPSchedule(make_alphas_cumprod("scaled_linear"), 1.0 if alpha_one else None, offset, spacing).steps(n)
    assert [st.t for st in ours] == s.timesteps.tolist()
    assert [st.index for st in ours] == list(range(n))
    x = _rand(2, 3, 4, 4)
    for i, (st, t) in enumerate(zip(ours, s.timesteps)):
        eps = _rand(2, 3, 4, 4, seed=i + 1)
        ref = s.step(eps.float(), t, x.float()).prev_sample.double()
        torch.testing.assert_close(st.a * x + st.b * eps, ref, rtol=1e-5, atol=1e-5)  # diffusers: float32
        a = float(s.alphas_cumprod[int(t)])
        # diffusers keeps alpha_bar in float32: agree to float32 precision
        assert st.signal == pytest.approx(a**0.5, abs=1e-6) and st.noise == pytest.approx((1 - a) ** 0.5, abs=1e-6)
        x0 = _rand(2, 3, 4, 4, seed=99)
        torch.testing.assert_close(st.x0(st.signal * x0 + st.noise * eps, eps), x0)


def _flow_ref(n: int, config: dict, **set_kw) -> FlowMatchEulerDiscreteScheduler:
    s = FlowMatchEulerDiscreteScheduler(**config)
    s.set_timesteps(n, **set_kw)
    return s


def _check_flow(ours: FlowSchedule, s: FlowMatchEulerDiscreteScheduler, n: int) -> None:
    steps = ours.steps(n)
    assert [st.t for st in steps] == s.timesteps.tolist()  # float32 values, exactly
    assert ours.sigmas(n) == pytest.approx(s.sigmas.tolist(), abs=0)
    x = _rand(1, 4, 4, 4)
    for i, (st, t) in enumerate(zip(steps, s.timesteps)):
        v = _rand(1, 4, 4, 4, seed=i + 1).float()
        ref = s.step(v, t, x.float()).prev_sample.double()
        torch.testing.assert_close(st.a * x + st.b * v.double(), ref, rtol=1e-6, atol=1e-6)
        x = ref
    s._step_index = None  # noqa: SLF001 -- the scheduler counts steps; rewind for the next test


@pytest.mark.parametrize("n", [4, 28])
def test_flow_steps_match_sd3_scheduler(n):
    _check_flow(FlowSchedule(shift=3.0), _flow_ref(n, {"shift": 3.0}), n)


@pytest.mark.parametrize("n", [4, 28])
def test_flow_steps_match_flux_dev_scheduler(n):
    config = {"shift": 3.0, "use_dynamic_shifting": True, "base_shift": 0.5, "max_shift": 1.15,
              "base_image_seq_len": 256, "max_image_seq_len": 4096}
    mu = flux_mu((1024 // 16) ** 2)  # 1024x1024: 4096 packed tokens
    sigmas = np.linspace(1.0, 1 / n, n)
    ours = FlowSchedule.from_config(config, mu=mu, base_sigmas="linspace")
    _check_flow(ours, _flow_ref(n, config, sigmas=sigmas, mu=mu), n)


@pytest.mark.parametrize("n", [4, 28])
def test_flow_steps_match_flux_schnell_scheduler(n):
    config = {"shift": 1.0, "use_dynamic_shifting": False}
    ours = FlowSchedule.from_config(config, base_sigmas="linspace")
    _check_flow(ours, _flow_ref(n, config, sigmas=np.linspace(1.0, 1 / n, n)), n)


def test_flow_step_x0_and_eps():
    st = FlowSchedule(shift=3.0).steps(28)[5]
    x0, eps = _rand(2, 3), _rand(2, 3, seed=1)
    x = st.signal * x0 + st.noise * eps
    v = eps - x0
    torch.testing.assert_close(st.x0(x, v), x0)
    torch.testing.assert_close(st.eps(x, v), eps)
