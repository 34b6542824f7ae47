"""`doodl demo` and `doodl bench vocab` end to end on the committed zoo weights (reduced steps), and bad input."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from doodl.cli import main
from doodl.demo import METHODS, VocabConfig, run_vocab
from doodl.demo.vocab import classifier_loss, shifted_copies
from doodl.zoo import weights_path

needs_super = pytest.mark.skipif(not weights_path("fashion-super-ddpm").exists(), reason="superclass model not present")
needs_zoo = pytest.mark.skipif(not weights_path("fashion-ddpm").exists() or not weights_path("fashion-guide").exists(),
                               reason="zoo weights not present (doodl zoo train)")


@needs_zoo
@needs_super
def test_demo_writes_grid_images_and_report(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--seeds", "2", "--steps", "4", "--opt-steps", "2", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["target"] == "Ankle boot" and set(report["methods"]) == set(METHODS)
    assert report["task"] == "super" and report["superclass"] == "footwear" and report["config"]["steps"] == 4
    assert all(0 <= report["methods"][m]["saturated"] <= 1 for m in METHODS)
    for m in METHODS:
        r = report["methods"][m]
        assert 0 <= r["target_accuracy"] <= 1 and r["n"] == 2 and r["seconds"] > 0
        for s in (0, 1):
            with Image.open(out / "images" / m / f"{s}.png") as im:
                assert im.size == (28, 28) and im.mode == "L"
    with Image.open(out / "grid.png") as im:
        assert im.height > im.width / 2  # three rows of two
    assert "target accuracy" in capsys.readouterr().out
    assert not list(out.rglob("*.tmp*"))


@needs_zoo
def test_doodl_lowers_the_guidance_loss_on_the_zoo_model():
    from doodl.zoo import load_classifier, load_fashion_backend

    backend, guide = load_fashion_backend(), load_classifier("fashion-guide")
    cfg = VocabConfig(task="cross", steps=4, opt_steps=3)
    res = run_vocab(backend, guide, load_classifier("fashion-eval"), None, 9, [0, 1], cfg, methods=["doodl"])
    h = res.methods["doodl"].history
    assert len(h) == 4 and min(h[1:]) < h[0]
    assert res.metrics["doodl"]["fid"] is None  # no reference images given


@needs_zoo
def test_bench_vocab_writes_table(tmp_path, capsys):
    rc = main(["bench", "vocab", "--task", "cross", "--classes", "9", "--seeds", "2", "--steps", "3", "--opt-steps", "1",
               "--out", str(tmp_path), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "vocab.json").read_text())
    assert list(data["per_class"]) == ["Ankle boot"] and "doodl bench vocab" in data["command"]
    assert "| **mean** |" in (tmp_path / "vocab.md").read_text()
    with Image.open(tmp_path / "grid.png") as im:  # three rows (methods) of two seeds
        assert im.height > im.width


def test_unknown_class_lists_valid_ones(tmp_path, capsys):
    assert main(["demo", "--target", "hat", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown Fashion-MNIST class 'hat'" in err and "9='Ankle boot'" in err


def test_unwritable_out_fails_before_work(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr("doodl.cli.demo._load", lambda *a: pytest.fail("loaded models before checking --out"))
    assert main(["demo", "--out", str(blocker / "sub")]) == 2
    assert "--out" in capsys.readouterr().err


def test_bench_vocab_rejects_bad_classes(tmp_path, capsys):
    assert main(["bench", "vocab", "--classes", "3-12", "--out", str(tmp_path)]) == 2
    assert "--classes" in capsys.readouterr().err


def test_shift_augmented_loss_is_per_image_and_averages_shifts():
    images = torch.rand(3, 1, 28, 28)
    stacked = shifted_copies(images, 4, 2, torch.Generator().manual_seed(0))
    assert stacked.shape == (12, 1, 28, 28)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    loss = classifier_loss(net, 2, shifts=4)(images)
    assert loss.shape == (3,) and torch.isfinite(loss).all()
    plain = classifier_loss(net, 2)(images)
    expect = torch.nn.functional.cross_entropy(net(images), torch.full((3,), 2), reduction="none")
    assert torch.allclose(plain, expect)


def _metrics(acc: float, fid: float | None) -> dict:
    return {"target_accuracy": acc, "fid": fid, "seconds": 1.0, "n": 8}


def test_vocab_table_shows_change_relative_to_vanilla_and_mean():
    from doodl.demo.table import mean_metrics, vocab_table

    per_class = {"Bag": {"vanilla": _metrics(0.25, 100.0), "doodl": _metrics(0.75, 80.0)},
                 "Shirt": {"vanilla": _metrics(0.0, 120.0), "doodl": _metrics(0.5, None)}}
    mean = mean_metrics(per_class, ["vanilla", "doodl"])
    assert mean["vanilla"]["target_accuracy"] == pytest.approx(0.125) and mean["doodl"]["fid"] is None
    md = vocab_table({**per_class, "mean": mean}, ["vanilla", "doodl"], {"doodl": "DOODL"})
    lines = md.splitlines()
    assert lines[0] == "| class | vanilla acc | vanilla FID | DOODL acc | DOODL FID |"
    assert lines[2] == "| Bag | 0.25 | 100.0 | 0.75 (+0.50) | 80.0 (-20.0) |"
    assert lines[3] == "| Shirt | 0.00 | 120.0 | 0.50 (+0.50) | n/a |"
    assert lines[4].startswith("| mean | 0.12 | 110.0 | 0.62 (+0.50) | n/a |")
    with pytest.raises(ValueError, match="per_class"):
        mean_metrics({}, ["vanilla"])


@needs_zoo
def test_bench_resumes_finished_classes_and_reruns_on_changed_settings(tmp_path, monkeypatch):
    from doodl.data.fashion_mnist import CLASS_NAMES
    from doodl.demo import bench
    from doodl.zoo import load_classifier, load_fashion_backend

    backend, guide, ev = load_fashion_backend(), load_classifier("fashion-guide"), load_classifier("fashion-eval")
    cfg = VocabConfig(task="cross", steps=3, opt_steps=1)
    test = (torch.rand(40, 1, 28, 28), torch.arange(40) % 10)
    first = bench.run_bench(backend, guide, ev, test, [9, 3], [0, 1], cfg, tmp_path, CLASS_NAMES)
    assert first.resumed == [] and set(first.pooled_fid) == set(METHODS)
    assert sorted(p.name for p in (tmp_path / "classes").iterdir()) == ["3.json", "3.safetensors", "9.json", "9.safetensors"]
    calls = []
    real = bench.run_vocab
    monkeypatch.setattr(bench, "run_vocab", lambda *a, **k: calls.append(a[4]) or real(*a, **k))
    again = bench.run_bench(backend, guide, ev, test, [9, 3], [0, 1], cfg, tmp_path, CLASS_NAMES)
    assert calls == [] and again.resumed == [9, 3] and again.per_class == first.per_class
    assert all(torch.equal(again.images[c][m], first.images[c][m]) for c in first.images for m in METHODS)
    assert again.pooled_fid == first.pooled_fid  # the same 8-bit pixels are scored
    bench.run_bench(backend, guide, ev, test, [9], [0, 1], VocabConfig(task="cross", steps=3, opt_steps=2), tmp_path, CLASS_NAMES)
    assert calls == [9]  # a changed setting is not mistaken for a finished class
    with pytest.raises(ValueError, match="classes"):
        bench.run_bench(backend, guide, ev, test, [10], [0], cfg, tmp_path, CLASS_NAMES)


# ---- issue 16: every option checked before any work; --seed, --json, --overwrite; strict JSON ----

@pytest.mark.parametrize("argv, needle", [
    (["--lr", "nan"], "--lr must be a positive finite number"),
    (["--grad-clip", "inf"], "--grad-clip must be a positive finite number"),
    (["--device", "tpu"], "--device must be cpu, cuda, cuda:N or mps, got 'tpu'"),
    (["--seed", "0-1", "--seeds", "2"], "not both"),
])
def test_demo_checks_every_option_before_any_work(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.setattr("doodl.cli.demo._load", lambda *a: pytest.fail("loaded models before the checks"))
    assert main(["demo", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def _fake_vocab(monkeypatch):
    """run_vocab without models: records the seeds it was asked for."""
    from doodl.demo import VocabResult
    from doodl.demo.vocab import MethodResult

    asked = {}

    def fake(backend, guide, evaluator, reference, k, seeds, cfg, progress=None, superclass=None):
        asked["seeds"] = list(seeds)
        methods = {m: MethodResult(m, torch.rand(len(seeds), 1, 28, 28), 0.1, history=[1.0, 0.5]) for m in METHODS}
        metrics = {m: {"target_accuracy": 0.5, "fid": float("nan"), "seconds": 0.1, "n": len(seeds)} for m in METHODS}
        return VocabResult(k, list(seeds), methods, metrics)

    monkeypatch.setattr("doodl.cli.demo._load", lambda *a: (None, None, None, None))
    monkeypatch.setattr("doodl.demo.run_vocab", fake)
    return asked


def test_demo_takes_a_seed_range_prints_json_and_refuses_a_used_out(tmp_path, capsys, monkeypatch):
    asked = _fake_vocab(monkeypatch)
    out = tmp_path / "demo"
    assert main(["demo", "--seed", "3-5", "--json", "--quiet", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert asked["seeds"] == [3, 4, 5] and printed["seeds"] == [3, 4, 5]
    assert printed == json.loads((out / "report.json").read_text())
    assert printed["methods"]["doodl"]["fid"] is None  # a NaN metric is null, never the invalid token NaN
    assert (out / "images" / "doodl" / "5.png").is_file()
    assert main(["demo", "--seeds", "1", "--quiet", "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["demo", "--seeds", "1", "--quiet", "--overwrite", "--out", str(out)]) == 0
    assert asked["seeds"] == [0] and not (out / "images" / "doodl" / "5.png").exists()


def test_demo_rejects_unknown_superclass_and_target_outside_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("doodl.cli.demo._load", lambda *a: pytest.fail("loaded models before checking the input"))
    assert main(["demo", "--superclass", "hats", "--out", str(tmp_path)]) == 2
    assert "unknown superclass 'hats'" in capsys.readouterr().err
    assert main(["demo", "--target", "sneaker", "--superclass", "tops", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'Sneaker' is not in superclass 'tops'" in err and "footwear" in err
    assert main(["demo", "--task", "cross", "--superclass", "tops", "--out", str(tmp_path)]) == 2
    assert "--superclass" in capsys.readouterr().err


def test_saturated_share_counts_white_among_lit_pixels():
    from doodl.demo.vocab import saturated_share

    im = torch.zeros(1, 1, 28, 28)
    im[..., :2, :] = 1.0  # 56 white
    im[..., 2:4, :] = 0.5  # 56 grey
    assert saturated_share(im) == pytest.approx(0.5)
