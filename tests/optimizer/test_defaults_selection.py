"""Per-family defaults (doodl.optimizer.defaults) and the returned-iterate choice (doodl.optimizer.selection)."""

from __future__ import annotations

import pytest
import torch

import doodl
from doodl.optimizer import defaults as D
from doodl.optimizer.selection import Selector


def brightness(images):
    return images.mean(dim=(1, 2, 3))


class _Fake:
    def __init__(self, kind):
        from doodl.schedules import FlowSchedule, VPSchedule, make_alphas_cumprod

        self.schedule = FlowSchedule(shift=3.0) if kind == "flow" else VPSchedule(make_alphas_cumprod(kind))


def test_family_read_from_the_schedule_or_the_attribute(toy_backend):
    assert D.family_of(_Fake("linear")) == D.LINEAR and D.family_of(_Fake("scaled_linear")) == D.SCALED_LINEAR
    assert D.family_of(toy_backend) == D.LINEAR
    assert D.family_of(_Fake("flow")) == D.FLOW and D.defaults_for(_Fake("flow")).steps == 28
    b = _Fake("linear")
    b.family = "someone-elses"
    assert D.family_of(b) == "someone-elses"
    assert D.defaults_for(b) == D.FAMILY_DEFAULTS[D.DEFAULT_FAMILY]  # unregistered family: the paper's values
    assert D.defaults_for(_Fake("scaled_linear")).mix == 0.93  # the paper's p on SD's schedule


def test_register_family_checks_its_input():
    with pytest.raises(ValueError, match="already has defaults"):
        D.register_family(D.LINEAR, D.FAMILY_DEFAULTS[D.LINEAR])
    with pytest.raises(ValueError, match="FamilyDefaults"):
        D.register_family("x", {"mix": 0.9})  # type: ignore[arg-type]


def test_optimize_fills_in_the_family_defaults_and_keeps_given_values(toy_backend):
    fam = D.defaults_for(toy_backend)
    r = doodl.optimize(toy_backend, brightness, seed=0, opt_steps=1, progress=False)
    assert len(r.history) == 2 and float(r.history[0].lr[0]) == fam.lr
    r = doodl.optimize(toy_backend, brightness, seed=0, num_inference_steps=4, opt_steps=1, lr=0.5, progress=False)
    assert float(r.history[0].lr[0]) == 0.5
    r = doodl.optimize(toy_backend, brightness, seed=0, num_inference_steps=4, opt_steps=1,
                       config=doodl.DoodlConfig(), progress=False)  # an explicit config is used as given
    assert float(r.history[0].lr[0]) == pytest.approx(doodl.DoodlConfig().lr)


def _offer_all(sel, losses):
    for i, l in enumerate(losses):
        img = torch.full((2, 1, 2, 2), float(i))
        sel.offer(img, img.clone(), torch.tensor(l, dtype=torch.float64), torch.tensor([True, i != 2]), i)
    return sel


def test_selector_last_best_and_scorer():
    losses = [[3.0, 3.0], [1.0, 2.0], [2.0, 0.5], [2.5, 2.5]]
    last = _offer_all(Selector("last"), losses)
    assert last.step.tolist() == [3, 3]
    best = _offer_all(Selector("best"), losses)
    assert best.step.tolist() == [1, 1]  # image 1's 0.5 at step 2 was not finite-ok: skipped
    assert best.loss.tolist() == [1.0, 2.0] and best.images[0].unique().item() == 1.0
    scorer = _offer_all(Selector(lambda im: -im.flatten(1).mean(1)), losses)  # prefers the brightest iterate
    assert scorer.step.tolist() == [3, 3]
    with pytest.raises(ValueError, match="select"):
        Selector("median")
    with pytest.raises(ValueError, match="select"):
        doodl.DoodlConfig(select="first")


def test_optimize_default_returns_the_last_iterate(toy_backend):
    r = doodl.optimize(toy_backend, lambda im: -brightness(im), seed=[3, 4], num_inference_steps=5, opt_steps=3,
                       perturb_std=0.5, progress=False)
    assert r.best_step.tolist() == [3, 3]
    torch.testing.assert_close(r.loss, r.history[-1].loss)
    held = doodl.optimize(toy_backend, lambda im: -brightness(im), seed=[3, 4], num_inference_steps=5, opt_steps=3,
                          perturb_std=0.5, select=lambda im: (im - 0.5).abs().flatten(1).mean(1), progress=False)
    assert held.best_step.shape == (2,) and (held.best_step <= 3).all()


def test_flux_schnell_gets_the_few_step_family(tmp_path):
    backend = doodl.load_backend(doodl.testing.save_tiny_pipeline("flux-schnell", tmp_path / "s"))
    assert D.family_of(backend) == D.FLOW_FEW_STEP and D.defaults_for(backend).steps == 4
