"""The held-out reward report of run.json: the zoo's eval classifier judging a guide-classifier run, before/after."""

from __future__ import annotations

import json

import torch

from doodl.runs import ModelCache, RunSpec, execute
from doodl.scorers.classifier import ClassifierScorer

GUIDE = "classifier:1,classifier=fashion-guide,class=7"


def test_doodl_run_reports_the_other_zoo_classifier_before_and_after(tmp_path):
    cache = ModelCache()
    steps = []
    rec = execute(RunSpec(model="fashion", guides=(GUIDE,), steps=3, opt_steps=2, device="cpu"), tmp_path / "a",
                  progress=False, models=cache, on_step=lambda info: steps.append((info["step"], info["images"])))
    held = json.loads((tmp_path / "a" / "run.json").read_text())["heldout"]
    assert list(held["judges"]) == ["fashion-eval (class 7)"] and held["unavailable"] == {}
    entry = held["seeds"]["0"]["fashion-eval (class 7)"]
    judge = ClassifierScorer(cache.zoo_classifier("fashion-eval", torch.device("cpu"), torch.float32), 7, num_classes=10)
    with torch.no_grad():  # an independent evaluation of the same images
        assert abs(entry["after"] - float(judge(rec.images)[0])) < 1e-4
        assert abs(entry["before"] - float(judge(steps[0][1])[0])) < 1e-4  # step 0 = the initial draw
    assert [s for s, _ in steps] == [0, 1, 2]


def test_baselines_have_no_before_and_unjudged_runs_say_why(tmp_path):
    base = execute(RunSpec(model="fashion", guides=(GUIDE,), steps=3, method="vanilla", device="cpu"), tmp_path / "b",
                   progress=False)
    assert base.heldout["seeds"]["0"]["fashion-eval (class 7)"]["before"] is None
    plain = execute(RunSpec(model="fashion", guides=("brightness",), steps=3, method="vanilla", device="cpu"),
                    tmp_path / "c", progress=False, heldout=True)
    assert plain.heldout["judges"] == {} and "no zoo classifier" in plain.heldout["unavailable"]["zoo classifiers"]
    off = execute(RunSpec(model="fashion", guides=(GUIDE,), steps=3, method="vanilla", device="cpu"), tmp_path / "d",
                  progress=False, heldout=False)
    assert off.heldout == {}


def test_stable_diffusion_judges_are_the_rewards_not_optimised(monkeypatch, tmp_path):
    from doodl.cli.options import GuideSpec
    from doodl.runs.heldout import SD_REWARDS, build_heldout
    from doodl.scorers.registry import ScorerContext

    monkeypatch.setenv("DOODL_HPS_CHECKPOINT", str(tmp_path / "missing.pt"))
    monkeypatch.delenv("DOODL_IMAGE_REWARD", raising=False)
    monkeypatch.setattr("doodl.runs.heldout._hub_cached", lambda source: False)  # nothing on this machine
    report = build_heldout((GuideSpec("pickscore"),), ScorerContext(prompt="a fox"), ModelCache(), pixel=False)
    assert report.judges == {} and set(report.unavailable) == set(SD_REWARDS) - {"pickscore"}
    assert "missing.pt" in report.unavailable["hps"] and "no path set" in report.unavailable["image-reward"]
    none = build_heldout((GuideSpec("clip-text"),), ScorerContext(prompt=None), ModelCache(), pixel=False)
    assert "no prompt" in none.unavailable["all"]


def test_a_missing_judge_is_reported_not_fatal(tmp_path, monkeypatch):
    import shutil

    from doodl.zoo.registry import PACKAGE_DIR

    for name in ("fashion-ddpm", "fashion-guide"):  # a zoo folder without fashion-eval
        for ext in ("safetensors", "json"):
            shutil.copy(PACKAGE_DIR / f"{name}.{ext}", tmp_path / f"{name}.{ext}")
    monkeypatch.setenv("DOODL_ZOO_DIR", str(tmp_path))
    rec = execute(RunSpec(model="fashion", guides=(GUIDE,), steps=2, method="vanilla", device="cpu"), tmp_path / "o",
                  progress=False)
    assert rec.heldout["judges"] == {} and "fashion-eval" in rec.heldout["unavailable"]["fashion-eval (class 7)"]
