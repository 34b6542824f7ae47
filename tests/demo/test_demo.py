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

needs_zoo = pytest.mark.skipif(not weights_path("fashion-ddpm").exists() or not weights_path("fashion-guide").exists(),
                               reason="zoo weights not present (doodl zoo train)")


@needs_zoo
def test_demo_writes_grid_images_and_report(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--seeds", "2", "--steps", "4", "--opt-steps", "2", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["target"] == "Ankle boot" and set(report["methods"]) == set(METHODS)
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
    cfg = VocabConfig(steps=4, opt_steps=3)
    res = run_vocab(backend, guide, load_classifier("fashion-eval"), None, 9, [0, 1], cfg, methods=["doodl"])
    h = res.methods["doodl"].history
    assert len(h) == 4 and min(h[1:]) < h[0]
    assert res.metrics["doodl"]["fid"] is None  # no reference images given


@needs_zoo
def test_bench_vocab_writes_table(tmp_path, capsys):
    rc = main(["bench", "vocab", "--classes", "9", "--seeds", "2", "--steps", "3", "--opt-steps", "1",
               "--out", str(tmp_path), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "vocab.json").read_text())
    assert list(data["per_class"]) == ["Ankle boot"] and "doodl bench vocab" in data["command"]
    assert "| **mean** |" in (tmp_path / "vocab.md").read_text()


def test_unknown_class_lists_valid_ones(tmp_path, capsys):
    assert main(["demo", "--target", "hat", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown Fashion-MNIST class 'hat'" in err and "9='Ankle boot'" in err


def test_unwritable_out_fails_before_work(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr("doodl.cli.demo._load", lambda device: pytest.fail("loaded models before checking --out"))
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
