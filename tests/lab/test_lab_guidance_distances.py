"""Classifier guidance on points (scale 0 = unconditional, the eps shift against a known gradient), CFG scale 1 =
the conditional model on point nets, sliced Wasserstein against known answers, per-class distances."""

from __future__ import annotations

import math

import pytest
import torch

from doodl.evaluation import frechet_distance, per_class_distance, sliced_wasserstein
from doodl.guidance import classifier_guidance, cond_fn_guidance
from doodl.lab.nets import EpsModel, NoiseAwareClassifier, PointMLP
from doodl.lab.sampling import PointModels, guided_denoiser, sample_paths
from doodl.samplers import ddim_sample
from doodl.schedules import VPSchedule, make_alphas_cumprod

AC = make_alphas_cumprod("linear")
SCHED = VPSchedule(AC)
AT = SCHED.steps_for([500, 100, 10])  # steps at the t the unit tests call the guidance at


@pytest.fixture(scope="module")
def models() -> PointModels:
    torch.manual_seed(0)
    return PointModels(PointMLP(2, None, width=16, blocks=1), PointMLP(2, 2, width=16, blocks=1),
                       NoiseAwareClassifier(2, 2, "mlp", width=16), AC)


def test_cg_scale_zero_is_unconditional_sampling(models):
    xT = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))
    ts = SCHED.steps(10)
    plain = ddim_sample(EpsModel(models.uncond), xT, ts)
    guided = ddim_sample(classifier_guidance(EpsModel(models.uncond), models.classifier, ts, 0.0, 1), xT, ts)
    assert torch.equal(plain, guided)
    moved = ddim_sample(classifier_guidance(EpsModel(models.uncond), models.classifier, ts, 3.0, 1), xT, ts)
    assert not torch.allclose(plain, moved)


def test_cfg_scale_one_is_the_conditional_model(models):
    xT = torch.randn(16, 2, generator=torch.Generator().manual_seed(2))
    ts = SCHED.steps(10)
    cond = ddim_sample(EpsModel(models.cond, label=0), xT, ts)
    guided = sample_paths(guided_denoiser(models, "cfg", 0, 1.0), xT, SCHED, 10).final
    torch.testing.assert_close(guided, cond, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(sample_paths(guided_denoiser(models, "cfg", 0, 3.0), xT, SCHED, 10).final, cond)
    assert torch.equal(sample_paths(guided_denoiser(models, "cg", 0, 0.0, 10), xT, SCHED, 10).final,
                       ddim_sample(EpsModel(models.uncond), xT, ts))


def test_cg_shifts_eps_by_the_log_prob_gradient():
    # A linear classifier: log p(1|x) - its gradient is analytic, (1 - p1) (w1 - w0) for two classes.
    torch.manual_seed(0)
    clf = NoiseAwareClassifier(2, 2, "linear")
    model = lambda x, t: torch.zeros_like(x)  # noqa: E731
    x = torch.randn(5, 2)
    t = 500
    eps = classifier_guidance(model, clf, AT, 2.0, 1)(x, t)
    with torch.no_grad():
        p1 = clf(x, t).softmax(-1)[:, 1:2]
    w = clf.linear.weight[:, :2].detach()
    grad = (1 - p1) * (w[1] - w[0])
    torch.testing.assert_close(eps, -2.0 * math.sqrt(1 - float(AC[t])) * grad, rtol=1e-5, atol=1e-6)


def test_cond_fn_guidance_matches_guided_diffusion_formula():
    model = lambda x, t: x * 0.5  # noqa: E731
    g = cond_fn_guidance(model, lambda x, t: torch.ones_like(x), AT, 1.5)
    x = torch.randn(3, 2)
    torch.testing.assert_close(g(x, 100), 0.5 * x - 1.5 * (1 - AC[100]).sqrt().float() * torch.ones_like(x))


@pytest.mark.parametrize("scale", [-1.0, float("nan"), float("inf"), "2", True])
def test_bad_scale_is_a_clear_error(models, scale):
    with pytest.raises(ValueError, match="scale"):
        classifier_guidance(EpsModel(models.uncond), models.classifier, AT, scale, 0)
    with pytest.raises(ValueError, match="scale"):
        guided_denoiser(models, "cfg", 0, scale)


def test_bad_target_is_a_clear_error(models):
    g = classifier_guidance(EpsModel(models.uncond), models.classifier, AT, 1.0, 5)
    with pytest.raises(ValueError, match="target"):
        g(torch.zeros(2, 2), 10)


def test_sliced_wasserstein_known_answers():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 2, generator=g)
    assert sliced_wasserstein(a, a.clone()) == pytest.approx(0.0, abs=1e-12)
    # A translation by v: every 1-D projection shifts by theta.v, so SW_2^2 = E[(theta.v)^2] = |v|^2 / D.
    v = torch.tensor([3.0, 0.0])
    sw = sliced_wasserstein(a, a + v, n_projections=4000, generator=torch.Generator().manual_seed(1))
    assert sw == pytest.approx(3.0 / math.sqrt(2), rel=0.03)
    # 1-D is exact: two point masses at 0 and 2.
    assert sliced_wasserstein(torch.zeros(5, 1), torch.full((7, 1), 2.0)) == pytest.approx(2.0)
    same = [sliced_wasserstein(a, a * 2, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert same[0] == same[1]


def test_sliced_wasserstein_bad_input():
    with pytest.raises(ValueError, match="dimension"):
        sliced_wasserstein(torch.zeros(3, 2), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="n_projections"):
        sliced_wasserstein(torch.zeros(3, 2), torch.zeros(3, 2), n_projections=0)
    with pytest.raises(ValueError, match="non-finite"):
        sliced_wasserstein(torch.full((3, 2), float("nan")), torch.zeros(3, 2))


def test_per_class_distance_uses_each_class_alone():
    real = torch.cat([torch.zeros(50, 2), torch.ones(50, 2) * 5])
    rl = torch.tensor([0] * 50 + [1] * 50)
    gen = torch.cat([torch.zeros(20, 2), torch.ones(20, 2) * 5 + 1])
    gl = torch.tensor([0] * 20 + [1] * 20)
    d = per_class_distance(lambda a, b: sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(0)), gen, gl, real, rl)
    assert d[0] == pytest.approx(0.0, abs=1e-12) and d[1] > 0.5
    fd = per_class_distance(frechet_distance, gen + torch.randn(40, 2) * 0.1, gl, real + torch.randn(100, 2) * 0.1, rl)
    assert fd[1] > fd[0]


def test_guidance_called_off_its_steps_is_a_clear_error(models):
    g = classifier_guidance(EpsModel(models.uncond), models.classifier, AT, 1.0, 0)
    with pytest.raises(ValueError, match="not one of the guidance's steps"):
        g(torch.zeros(2, 2), 7)
