"""Issue 16: the task commands' checks on the zoo model `fashion` (shipped weights, a few steps, seconds each)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from doodl.cli import main
from doodl.zoo import weights_path

needs_zoo = pytest.mark.skipif(not weights_path("fashion-ddpm").exists(), reason="zoo weights not present")
FAST = ["--steps", "3", "--opt-steps", "1", "--device", "cpu"]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_line(code: int, err: str) -> str:
    assert code != 0 and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("Error")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if a backend or scorer gets loaded (checks must come first)."""
    from doodl.runs.models import ModelCache

    monkeypatch.setattr(ModelCache, "backend", lambda *a, **k: pytest.fail("a model was loaded before the checks"))


@pytest.fixture
def user_classifiers(tmp_path, monkeypatch):
    """An importable module with classifiers that return NaN, or logits with no gradient path."""
    (tmp_path / "i16_clf.py").write_text(
        "import torch\n\n"
        "class Nan(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return torch.full((x.shape[0], 10), float('nan')) + 0 * x.mean()\n\n"
        "class Detached(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x.flatten(1)[:, :10].detach()\n\n"
        "def nan():\n    return Nan()\n\n"
        "def detached():\n    return Detached()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


# ---- item 7: a non-finite loss is a failed run, everywhere ----

@needs_zoo
@pytest.mark.parametrize("method", ["vanilla", "doodl"])
def test_a_nan_loss_fails_the_run_and_writes_no_result(user_classifiers, tmp_path, capsys, method):
    out = tmp_path / "out"
    code, _, err = run(capsys, "classify-guide", "--model", "fashion", "--classifier", "i16_clf:nan", "--class", "3",
                       "--method", method, "--quiet", "--out", out, *FAST)
    msg = one_line(code, err)
    assert "not finite" in msg and "seed(s) 0" in msg
    assert not (out / "seed-0.png").exists() and not (out / "run.json").exists()


@needs_zoo
def test_batch_and_execute_share_the_rule(user_classifiers, tmp_path):
    from doodl.runs import RunSpec, execute
    from doodl.runs.checks import NonFiniteLoss

    spec = RunSpec(task="classify-guide", model="fashion", classifier="i16_clf:nan", class_index=3, method="vanilla",
                   steps=2, device="cpu")
    with pytest.raises(NonFiniteLoss):
        execute(spec, tmp_path / "o", progress=False)


@needs_zoo
def test_a_classifier_without_gradient_is_named(user_classifiers, tmp_path, capsys):
    code, _, err = run(capsys, "classify-guide", "--model", "fashion", "--classifier", "i16_clf:detached", "--class",
                       "3", "--quiet", "--out", tmp_path / "o", *FAST)
    msg = one_line(code, err)
    assert "classifier (i16_clf:detached)" in msg and "no gradient path" in msg


# ---- item 12: --out must be empty unless --overwrite ----

@needs_zoo
def test_reusing_out_is_refused_unless_overwrite_which_replaces_the_old_run(tmp_path, capsys):
    out = tmp_path / "out"
    (code, _, err) = run(capsys, "generate", "x", "--model", "fashion", "--method", "vanilla", "--seed", "0-1", "--quiet",
                         "--out", out, *FAST)
    assert code == 0, err
    assert (out / "seed-1.png").is_file()
    code, _, err = run(capsys, "generate", "x", "--model", "fashion", "--method", "vanilla", "--seed", "0", "--quiet",
                       "--out", out, *FAST)
    msg = one_line(code, err)
    assert "--out" in msg and "not empty" in msg and "--overwrite" in msg
    (out / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "generate", "x", "--model", "fashion", "--method", "vanilla", "--seed", "0", "--quiet",
                       "--overwrite", "--out", out, *FAST)
    assert code == 0, err
    assert not (out / "seed-1.png").exists() and (out / "seed-0.png").is_file()  # no old seed beside the new record
    assert json.loads((out / "run.json").read_text())["spec"]["seeds"] == [0]
    assert (out / "notes.txt").read_text() == "mine"  # only the previous run's files are removed


# ---- item 11: personalize without a prompt ----

def test_personalize_with_an_image_as_the_prompt_is_an_error(tmp_path, capsys, no_loading):
    from PIL import Image

    for name in ("dog1.png", "dog2.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    code, _, err = run(capsys, "personalize", tmp_path / "dog1.png", tmp_path / "dog2.png", "--out", tmp_path / "o")
    msg = one_line(code, err)
    assert "PROMPT" in msg and "dog2.png" in msg and "image file" in msg


# ---- one-line errors that name the argument, before any model is loaded ----

@pytest.mark.parametrize("argv, needles", [
    (["classify-guide", "--classifier", "fashion-guid", "--class", "3"], ["fashion-guid", "fashion-guide", "efficientnet-lite0"]),
    (["generate", "x", "--guide", "classifier,classifier=effnet,class=3"], ["effnet", "efficientnet-lite0"]),
    (["generate", "x", "--guide", "brightness", "--set", "momentum=abc"], ["--set momentum", "'abc'"]),
    (["generate", "x", "--guide", "brightness", "--set", "mix=nan"], ["--set mix", "finite"]),
    (["generate", "x", "--guide", "brightness", "--set", "grad_clip=Infinity"], ["--set grad_clip", "finite"]),
    (["generate", "x", "--guide", "brightness", "--device", "tpu"], ["--device", "tpu"]),
    (["generate", "x", "--model", "fashion", "--guide", "brightness", "--steps", "5000"], ["--steps 5000", "1000"]),
    (["generate", "a cat", "--model", "fashion"], ["--model fashion", "--guide"]),
    (["edit", "IMAGE", "--model", "fashion"], ["--model fashion", "--guide"]),
])
def test_bad_options_fail_in_one_line_before_loading(tmp_path, capsys, no_loading, argv, needles):
    from PIL import Image

    Image.new("L", (28, 28)).save(tmp_path / "img.png")
    argv = [str(tmp_path / "img.png") if a == "IMAGE" else a for a in argv]
    code, _, err = run(capsys, *argv, "--out", tmp_path / "o", "--opt-steps", "1")
    msg = one_line(code, err)
    for needle in needles:
        assert needle in msg, msg


def test_corrupt_model_index_names_the_file(tmp_path, capsys):
    folder = tmp_path / "sd"
    for sub, cfg in (("unet", "config.json"), ("vae", "config.json"), ("text_encoder", "config.json"),
                     ("tokenizer", None), ("scheduler", "scheduler_config.json")):
        (folder / sub).mkdir(parents=True)
        if cfg:
            (folder / sub / cfg).write_text("{}")
    (folder / "model_index.json").write_text('{"unet": ["diffusers", ')
    code, _, err = run(capsys, "generate", "x", "--guide", "brightness", "--model", folder, "--out", tmp_path / "o")
    msg = one_line(code, err)
    assert str(folder / "model_index.json") in msg and "JSON" in msg


def test_offline_hub_model_says_so_quickly_with_how_to_use_a_folder(tmp_path, capsys, monkeypatch):
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    code, _, err = run(capsys, "generate", "x", "--guide", "brightness", "--model", "nobody/no-such-sd",
                       "--out", tmp_path / "o", *FAST)
    msg = one_line(code, err)
    assert "HF_HUB_OFFLINE" in msg and "local folder" in msg and "nobody/no-such-sd" in msg
    assert "model_index.json" in msg  # what a folder must hold
    assert time.perf_counter() - start < 20  # no retry loop


def test_offline_probe_reports_an_unreachable_hub(monkeypatch):
    from doodl import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens there
    assert "no network" in hub.offline_reason()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "HF_HUB_OFFLINE" in hub.offline_reason()


def test_load_backend_device_is_checked():
    import doodl

    with pytest.raises(ValueError, match="device must be cpu, cuda, cuda:N or mps, got 'tpu'"):
        doodl.load_backend("fashion", device="tpu")


# ---- newcomer friction ----

@needs_zoo
def test_vanilla_needs_no_scorer_and_the_bar_counts_sampler_steps(tmp_path, capsys, monkeypatch):
    import doodl.runs.models as models

    monkeypatch.setattr(models.ModelCache, "loss", lambda *a, **k: pytest.fail("vanilla loaded a scorer"))
    code, out, err = run(capsys, "generate", "a cat", "--model", "fashion", "--method", "vanilla", "--out",
                         tmp_path / "o", "--steps", "4", "--device", "cpu")
    assert code == 0, err
    assert "4/4" in err  # one tick per sampler step, not a 1-step bar
    assert "no guide" in out
    record = json.loads((tmp_path / "o" / "run.json").read_text())
    assert record["settings"]["guides"] == [] and record["seeds"][0]["loss"] is None


@needs_zoo
def test_a_class_name_prompt_on_the_zoo_model_uses_the_zoo_classifier(tmp_path, capsys):
    code, _, err = run(capsys, "generate", "sneaker", "--model", "fashion", "--quiet", "--out", tmp_path / "o", *FAST)
    assert code == 0, err
    guide = json.loads((tmp_path / "o" / "run.json").read_text())["settings"]["guides"][0]
    assert guide["name"] == "classifier" and guide["options"] == {"classifier": "fashion-guide", "class": "7"}


def test_quiet_silences_third_party_logging_and_bars(monkeypatch):
    import warnings

    import diffusers.utils.logging as dlog
    import transformers.utils.logging as tlog

    from doodl.cli.run_commands import _setup_logging

    before = (tlog.get_verbosity(), dlog.get_verbosity(), tlog.is_progress_bar_enabled())
    with warnings.catch_warnings():
        try:
            _setup_logging(True)
            assert tlog.get_verbosity() == logging.ERROR and dlog.get_verbosity() == logging.ERROR
            assert not tlog.is_progress_bar_enabled()
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("default")
                _setup_logging(True)
                warnings.warn_explicit("third party", UserWarning, "x.py", 1, module="transformers.x")
                warnings.warn_explicit("ours", UserWarning, "y.py", 1, module="doodl.runs")
            assert [str(w.message) for w in seen] == ["ours"]
        finally:
            tlog.set_verbosity(before[0])
            dlog.set_verbosity(before[1])
            if before[2]:
                tlog.enable_progress_bar()
                dlog.enable_progress_bar()


def test_strict_json_names_the_file():
    from doodl.io.jsontext import json_text

    with pytest.raises(ValueError, match="report.json: cannot be written as JSON"):
        json_text({"grad_clip": float("inf")}, "report.json")


@needs_zoo
def test_classify_guide_on_a_zoo_model_defaults_to_the_zoo_classifier(tmp_path, capsys):
    code, _, err = run(capsys, "classify-guide", "--model", "fashion", "--class", "sneaker", "--method", "vanilla",
                       "--quiet", "--out", tmp_path / "o", *FAST)
    assert code == 0, err
    record = json.loads((tmp_path / "o" / "run.json").read_text())
    assert record["settings"]["guides"][0]["options"] == {"classifier": "fashion-guide", "class": "7"}
    assert record["seeds"][0]["loss"] is not None  # the classifier scores the vanilla image
