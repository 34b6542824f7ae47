"""doodl.samplers.stability: the chain report, the growth bound, and the pair-gap warning optimize() raises."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import doodl
from doodl.optimizer.resolve import ChainDivergedWarning, check_chain
from doodl.samplers.common import make_steps
from doodl.samplers.stability import GAP_WARN, ChainReport, chain_report, gap_warning, growth_factor, pair_gap
from doodl.schedules import make_alphas_cumprod
from doodl.zoo import weights_path


def test_growth_factor_is_the_product_of_squared_mixed_coefficients():
    ac = make_alphas_cumprod("linear")
    ts = [900, 600, 300, 0]
    expect = 1.0
    for i, t in enumerate(ts):
        prev = float(ac[ts[i + 1]]) if i + 1 < len(ts) else 1.0
        expect *= max(1.0, (0.9 * math.sqrt(prev / float(ac[t]))) ** 2)
    assert growth_factor(make_steps(ts, ac), 0.9) == pytest.approx(expect, rel=1e-9)
    steps = make_steps(ts, ac)
    assert all(s.a > 1 for s in steps)  # DDIM's a_t = sqrt(alpha_prev / alpha_t) > 1 on a denoising chain


def test_linear_betas_grow_far_more_than_scaled_linear_at_t20():
    # the measured reason the zoo's EDICT needs its own p (BENCHMARKS.md §5): same p and T, two schedules
    ts = list(range(950, -1, -50))
    lin, sl = make_alphas_cumprod("linear"), make_alphas_cumprod("scaled_linear")
    assert growth_factor(make_steps(ts, lin), 0.93) > 50 * growth_factor(make_steps(ts, sl), 0.93)
    assert growth_factor(make_steps(ts, lin), 0.8) < growth_factor(make_steps(ts, lin), 0.93) / 10


def test_pair_gap_and_warning_text():
    x = torch.zeros(2, 1, 4, 4)
    y = x.clone()
    y[1] += 0.5
    assert pair_gap(x, y).tolist() == [0.0, 0.5]
    assert gap_warning(pair_gap(x, x), 0.8, 20) is None
    msg = gap_warning(pair_gap(x, y), 0.93, 10)
    assert "0.5" in msg and "p = 0.93" in msg and "T = 10" in msg and "more steps or a smaller mix" in msg
    with pytest.warns(ChainDivergedWarning, match="diverged"):
        gap = check_chain(x, y, 0.93, 10)
    assert gap.tolist() == [0.0, 0.5]


def test_report_on_the_toy_model(toy_backend):
    r = chain_report(toy_backend, 0.9, 6, seeds=[0, 1])
    assert isinstance(r, ChainReport) and r.seeds == 2 and r.steps == 6 and r.mix == 0.9
    assert 0 <= r.gap_mean <= r.gap_max and r.roundtrip_max < 1e-9  # float64 coupling inverts exactly
    assert r.growth >= 1 and r.ddim_diff >= 0
    assert r.as_dict()["stable"] == r.stable
    with pytest.raises(ValueError, match="seeds"):
        chain_report(toy_backend, 0.9, 6, seeds=[])


needs_zoo = pytest.mark.skipif(not weights_path("fashion-ddpm").exists(), reason="zoo weights not present")


@needs_zoo
def test_zoo_chain_diverges_at_p093_t10_and_holds_at_p08_t20():
    b = doodl.load_backend("fashion")
    bad, good = chain_report(b, 0.93, 10, seeds=[0]), chain_report(b, 0.8, 20, seeds=[0])
    assert bad.gap_mean > 1.0 and not bad.stable  # measured 3.1 (BENCHMARKS.md §5)
    assert good.gap_mean < GAP_WARN and good.stable


@needs_zoo
def test_optimize_warns_when_the_pair_diverges():
    b = doodl.load_backend("fashion")
    loss = lambda im: im.mean((1, 2, 3))  # noqa: E731
    with pytest.warns(ChainDivergedWarning, match="T = 10"):
        r = doodl.optimize(b, loss, seed=0, num_inference_steps=10, opt_steps=0, mix=0.93, progress=False)
    assert float(r.pair_gap[0]) > GAP_WARN
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChainDivergedWarning)
        r = doodl.optimize(b, loss, seed=0, opt_steps=0, progress=False)  # the family defaults: p 0.8, T 20
    assert float(r.pair_gap[0]) < GAP_WARN
