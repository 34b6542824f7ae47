"""RunSpec (round trip, defaults, validation) and execute() on the toy pixel backend with the brightness guide."""

from __future__ import annotations

import json
import math

import pytest
import torch

from doodl.specs import GuideSpec
from doodl.io import read_png_metadata
from doodl.runs import TASK_DEFAULTS, TASKS, ModelCache, RunSpec, execute
from doodl.runs.defaults import CLASSIFIER_CLASSES, ZOO_CLASSIFIERS


def test_to_dict_from_dict_round_trip_through_json():
    spec = RunSpec(task="personalize", model="some/model", prompt="a dog", references=["a.png", "b.png"],
                   guides=["clip-image:0.5,crops=4", {"name": "aesthetic", "weight": 0.1, "options": {"target": 9}}],
                   seeds="0-2,7", method="one-step", clip_models=["x", "y"], clip_weights=[0.5, 0.5],
                   doodl_options={"momentum": 0.8, "adam_betas": [0.9, 0.99]}, height=64, width=96)
    data = json.loads(json.dumps(spec.to_dict()))
    again = RunSpec.from_dict(data)
    assert again == spec
    assert again.to_dict() == data  # normalising twice changes nothing (the batch runner's job ids rely on it)
    assert spec.seeds == (0, 1, 2, 7) and spec.method == "one_step"
    assert spec.guides[0] == GuideSpec("clip-image", 0.5, {"crops": "4"})


def test_from_dict_reads_aliases_and_dashes():
    spec = RunSpec.from_dict({"task": "classify-guide", "seed": "1-2", "guide": "brightness", "clip-model": "c",
                              "classifier": "fashion-guide", "class": "sneaker", "opt-steps": 3})
    assert spec.seeds == (1, 2) and spec.guides == (GuideSpec("brightness"),) and spec.clip_models == ("c",)
    assert spec.class_index == 7 and spec.opt_steps == 3  # Fashion-MNIST's 'Sneaker'


@pytest.mark.parametrize("data, needle", [
    ({"colour": "red"}, "colour"),
    ({"seed": 1, "seeds": [1]}, "twice"),
    ({"task": "paint"}, "task"),
    ({"method": "adam"}, "--method"),
    ({"steps": 0}, "--steps"),
    ({"lr": 0}, "--lr"),
    ({"lr": math.nan}, "--lr"),
    ({"seeds": []}, "seeds"),
    ({"seeds": [-1]}, "seeds"),
    ({"task": "edit"}, "image"),
    ({"task": "edit", "image": "x.png", "steps": 4, "invert_to": 5}, "--invert-to"),
    ({"task": "edit", "image": "x.png", "target": 0.5}, "--target"),
    ({"task": "personalize"}, "reference"),
    ({"task": "classify-guide"}, "--class"),
    ({"task": "classify-guide", "class_index": 1000}, "0-999"),
    ({"task": "classify-guide", "classifier": "fashion-guide", "class": "hat"}, "--class"),
    ({"clip_models": ["a"], "clip_weights": [1, 2]}, "--clip-weight"),
    ({"doodl_options": {"learning_rate": 1}}, "learning_rate"),
    ({"doodl_options": {"momentum": 1.5}}, "momentum"),
    ({"doodl_options": {"lr": 1}}, "'lr'"),
    ({"dtype": "int8"}, "--dtype"),
    ({"coupling_dtype": "float16"}, "--coupling-dtype"),
    ({"doodl_options": {"coupling_dtype": "float32"}}, "coupling_dtype"),
    ({"device": "tpu"}, "--device"),
    ({"guides": ["sharpness"]}, "valid guides"),
    ({"guides": [{"name": "clip-text", "weight": -1}]}, "weight"),
    ({"crops": -1}, "--crops"),
    ({"batch_size": 0}, "--batch-size"),
])
def test_bad_specs_raise_value_errors_naming_the_field(data, needle):
    with pytest.raises(ValueError) as err:
        RunSpec.from_dict(data)
    assert needle in str(err.value)


@pytest.mark.parametrize("task", TASKS)
def test_task_defaults_fill_unset_fields_and_explicit_values_win(task):
    extra = {"edit": {"image": "x.png"}, "personalize": {"references": ["r.png"]},
             "classify-guide": {"class_index": 1}}.get(task, {})
    spec = RunSpec(task=task, **extra)
    d = TASK_DEFAULTS[task]
    assert spec.resolved()["lr"] == d.lr and spec.resolved()["opt_steps"] == d.opt_steps
    assert spec.resolved()["guidance_scale"] == d.guidance_scale and spec.resolved()["one_step_scale"] == d.one_step_scale
    custom = RunSpec(task=task, lr=0.7, opt_steps=3, guidance_scale=2.0, one_step_scale=9.0, **extra)
    assert [custom.resolved()[k] for k in ("lr", "opt_steps", "guidance_scale", "one_step_scale")] == [0.7, 3, 2.0, 9.0]
    assert custom.doodl_config().lr == 0.7


def test_edit_inverts_fully_for_doodl_and_halfway_for_baselines():
    assert RunSpec(task="edit", image="x.png", steps=50).resolved()["invert_to"] == 50  # §5.3: to x_T
    assert RunSpec(task="edit", image="x.png", steps=50, method="one_step").resolved()["invert_to"] == 25  # T/2
    assert RunSpec(task="edit", image="x.png", steps=50, invert_to=10).resolved()["invert_to"] == 10


def test_resolved_guides_per_task():
    assert RunSpec(prompt="a cat").resolved_guides() == (GuideSpec("clip-text"),)
    assert RunSpec(guides=["brightness"]).resolved_guides() == (GuideSpec("brightness"),)  # replaces the default
    spec = RunSpec(task="classify-guide", class_index=5, guides=["brightness:0.5"])
    assert [g.name for g in spec.resolved_guides()] == ["classifier", "brightness"]  # the class guide always stays
    assert spec.resolved_guides()[0].options == {"classifier": "efficientnet-lite0", "class": "5"}
    spec = RunSpec(task="personalize", references=["a.png", "b.png"], clip_models=["c1", "c2"], clip_weights=[2, 1])
    assert spec.resolved_guides()[0].options == {"references": "a.png;b.png", "clip-model": "c1;c2", "weights": "2;1"}
    spec = RunSpec(task="edit", image="x.png", target=1, clip_models=["c"], guides=["aesthetic,target=3"])
    assert spec.resolved_guides()[0].options == {"target": "3", "clip-model": "c"}  # the guide's own target wins
    with pytest.raises(ValueError, match="one --clip-model"):
        RunSpec(task="edit", image="x.png", clip_models=["a", "b"]).resolved_guides()


def test_known_classifier_tables_match_their_sources():
    from doodl.scorers import IMAGENET_CLASSES
    from doodl.zoo.config import CLASSIFIER_NAMES

    assert set(ZOO_CLASSIFIERS) == set(CLASSIFIER_NAMES)
    assert CLASSIFIER_CLASSES["efficientnet-lite0"] == IMAGENET_CLASSES


# ---- execute() on the toy pixel backend (conftest.toy_backend), guided by mean brightness ----

@pytest.fixture
def toy_model(toy_backend, monkeypatch):
    """Register the toy backend as the short name 'toy' for this test; counts how often it is loaded."""
    import doodl.backends.registry as registry

    calls = []

    def factory(dtype=None, device=None):
        calls.append((dtype, device))
        return toy_backend

    monkeypatch.setitem(registry._REGISTRY, "toy", (factory, {}))
    return calls


def test_execute_writes_outputs_and_keeps_a_bounded_number_of_iterates(toy_model, tmp_path):
    spec = RunSpec(model="toy", guides=["brightness,target=max"], seeds=[3, 4], steps=3, opt_steps=5, max_iterates=2,
                   device="cpu", lr=5.0)
    record = execute(spec, tmp_path / "new" / "out", progress=False)
    out = tmp_path / "new" / "out"
    assert record.images.shape == (2, 1, 8, 8) and record.out_dir == out
    saved = json.loads((out / "run.json").read_text())
    for o, js in zip(record.outputs, saved["seeds"]):
        assert 2 <= len(o.iterate_steps) <= spec.max_iterates + 1  # bounded
        assert o.iterate_steps[0] == 0 and o.iterate_steps[-1] == 5  # first and last iterate kept
        assert len(o.losses) == 6 and js["losses"] == o.losses and js["loss"] == o.loss
        assert o.loss == o.losses[-1]  # the last iterate is returned (DoodlConfig.select "last", Algorithm 1)
        assert read_png_metadata(o.image)["seed"] == o.seed
    torch.testing.assert_close(record.losses, torch.tensor([o.loss for o in record.outputs], dtype=torch.float64))
    assert saved["settings"]["guidance_scale"] is None  # pixel models take no text conditioning
    assert {p.name for p in record.paths} >= {"seed-3.png", "iterates-4.gif", "loss.png", "run.json"}


def test_model_cache_loads_a_model_once_per_dtype(toy_model, tmp_path):
    cache = ModelCache()
    spec = RunSpec(model="toy", guides=["brightness"], steps=2, opt_steps=1, device="cpu")
    execute(spec, tmp_path / "a", progress=False, models=cache)
    execute(RunSpec.from_dict({**spec.to_dict(), "seeds": [1]}), tmp_path / "b", progress=False, models=cache)
    assert len(toy_model) == 1
    execute(RunSpec.from_dict({**spec.to_dict(), "dtype": "float64"}), tmp_path / "c", progress=False, models=cache)
    assert len(toy_model) == 2 and toy_model[1][0] == torch.float64


def test_early_stop_keeps_the_last_iterate(toy_model, tmp_path):
    spec = RunSpec(model="toy", guides=["brightness"], steps=2, opt_steps=4, device="cpu",
                   doodl_options={"target_loss": 10.0})  # every loss is below 10: stop after the first evaluation
    record = execute(spec, tmp_path, progress=False)
    assert record.outputs[0].iterate_steps == [0] and len(record.outputs[0].losses) == 1


def test_seed_results_do_not_depend_on_batching(toy_model, tmp_path):
    base = dict(model="toy", guides=["brightness"], seeds=[0, 1, 2], steps=2, opt_steps=2, device="cpu", lr=5.0)
    together = execute(RunSpec(**base, batch_size=3), tmp_path / "together", progress=False)
    apart = execute(RunSpec(**base, batch_size=1), tmp_path / "apart", progress=False)
    torch.testing.assert_close(together.images, apart.images, atol=1e-5, rtol=0)


def test_baselines_on_the_toy_model(toy_model, tmp_path):
    for method in ("vanilla", "one_step"):
        record = execute(RunSpec(model="toy", guides=["brightness"], steps=2, method=method, device="cpu"),
                         tmp_path / method, progress=False)
        assert record.loss_curve is None and record.outputs[0].iterates is None
        assert record.outputs[0].loss is not None and (tmp_path / method / "seed-0.png").is_file()


def test_a_failure_keeps_the_finished_seeds_and_writes_no_record(toy_model, tmp_path, monkeypatch):
    import doodl.optimizer.loop as loop

    real, calls = loop.optimize, []

    def flaky(*args, **kwargs):
        calls.append(kwargs["seed"])
        if len(calls) == 2:
            raise RuntimeError("CUDA out of memory")
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "optimize", flaky)
    with pytest.raises(RuntimeError, match="out of memory"):
        execute(RunSpec(model="toy", guides=["brightness"], seeds=[0, 1], steps=2, opt_steps=1, device="cpu"),
                tmp_path, progress=False)
    assert calls == [[0], [1]]
    assert (tmp_path / "seed-0.png").is_file() and not (tmp_path / "seed-1.png").exists()
    assert not (tmp_path / "run.json").exists() and not list(tmp_path.glob(".*tmp*"))
