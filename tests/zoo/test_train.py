"""The zoo trainers on synthetic data: losses fall, files and cards are written, reloads are exact, seeds reproduce."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import synthetic_data, tiny_classifier_kw, tiny_ddpm_kw
from safetensors.torch import load_file

from doodl.zoo import (
    ClassifierConfig,
    DDPMConfig,
    default_config,
    load_classifier,
    load_fashion_backend,
    load_unet,
    read_card,
    train_classifier,
    train_ddpm,
)


def _first_last(res):
    return res.losses[0][1], res.losses[-1][1]


@pytest.mark.parametrize("name", ["fashion-ddpm", "fashion-cond-ddpm", "fashion-guide", "fashion-eval"])
def test_loss_falls_and_files_written(tiny_zoo, name):
    res, out = tiny_zoo[name], tiny_zoo["dir"]
    first, last = _first_last(res)
    assert last < 0.8 * first, res.losses
    assert res.weights_path == out / f"{name}.safetensors" and res.weights_path.is_file()
    card = read_card(name, out)
    assert card is not None and card.name == name and card.steps == res.steps and not card.stopped_early
    assert card.final_loss == pytest.approx(res.final_loss) and card.weights_bytes == res.weights_path.stat().st_size
    assert card.torch_version == torch.__version__ and card.command
    readme = (out / "README.md").read_text()
    assert f"## {name}" in readme and "zoo train" in readme


def test_classifier_cards_carry_test_accuracy(tiny_zoo):
    for name in ("fashion-guide", "fashion-eval"):
        res = tiny_zoo[name]
        assert res.test_accuracy is not None and 0 <= res.test_accuracy <= 1
        assert read_card(name, tiny_zoo["dir"]).test_accuracy == res.test_accuracy
    # the guidance CNN separates the synthetic classes after 40 steps; chance is 0.1
    assert tiny_zoo["fashion-guide"].test_accuracy > 0.5


def test_ddpm_reload_is_exact_and_grid_written(tiny_zoo):
    out = tiny_zoo["dir"]
    for name in ("fashion-ddpm", "fashion-cond-ddpm"):
        stored = load_file(str(out / f"{name}.safetensors"))
        unet = load_unet(name, weights_dir=out)
        for k, v in unet.state_dict().items():
            assert v.dtype == torch.float32
            assert torch.equal(v, stored[k].float()), k
        assert stored[next(iter(stored))].dtype == torch.float16  # DDPMs are stored in half precision
        card = read_card(name, out)
        assert card.extra["grid"] == f"{name}.png" and (out / f"{name}.png").stat().st_size > 0


def test_classifier_reload_is_exact(tiny_zoo):
    out = tiny_zoo["dir"]
    for name in ("fashion-guide", "fashion-eval"):
        stored = load_file(str(out / f"{name}.safetensors"))
        model = load_classifier(name, weights_dir=out)
        sd = model.state_dict()
        assert sorted(sd) == sorted(stored)
        assert all(torch.equal(sd[k], stored[k]) for k in sd)
        x = torch.rand(3, 1, 28, 28)
        assert model(x).shape == (3, 10) and not model.training


def test_backends_sample_offline(tiny_zoo, monkeypatch, tmp_path):
    from doodl import sample

    monkeypatch.setenv("DOODL_FASHION_MNIST", str(tmp_path / "nothing-here"))
    uncond = load_fashion_backend(False, weights_dir=tiny_zoo["dir"])
    cond = load_fashion_backend(True, weights_dir=tiny_zoo["dir"])
    assert uncond.num_classes is None and cond.num_classes == 10 and cond.pad == 2
    assert uncond.image_shape == (1, 28, 28) and uncond.latent_shape == (1, 32, 32)
    a = sample(uncond, seed=[0, 1], num_inference_steps=2).images
    b = sample(cond, seed=[0, 1], num_inference_steps=2, class_label=3, guidance_scale=2.0).images
    for imgs in (a, b):
        assert imgs.shape == (2, 1, 28, 28) and torch.isfinite(imgs).all()


def test_ddpm_seed_reproducible_and_seed_sensitive(tmp_path):
    data = synthetic_data(32)
    kw = tiny_ddpm_kw(steps=3, grid_seeds=0)
    runs = {}
    for tag, seed in (("a", 5), ("b", 5), ("c", 6)):
        train_ddpm(DDPMConfig(name="fashion-cond-ddpm", conditional=True, seed=seed, **kw), data, out_dir=tmp_path / tag)
        runs[tag] = load_file(str(tmp_path / tag / "fashion-cond-ddpm.safetensors"))
    assert all(torch.equal(runs["a"][k], runs["b"][k]) for k in runs["a"])
    assert not all(torch.equal(runs["a"][k], runs["c"][k]) for k in runs["a"])


def test_classifier_seed_reproducible(tmp_path):
    data = synthetic_data(32)
    losses = []
    for tag in ("a", "b"):
        res = train_classifier(ClassifierConfig(seed=3, **tiny_classifier_kw(steps=4)), data, out_dir=tmp_path / tag)
        losses.append(res.losses)
    a, b = (load_file(str(tmp_path / t / "fashion-guide.safetensors")) for t in ("a", "b"))
    assert losses[0] == losses[1] and all(torch.equal(a[k], b[k]) for k in a)


def test_max_minutes_stops_early_and_still_saves(tmp_path):
    cfg = ClassifierConfig(max_minutes=1e-6, **tiny_classifier_kw(steps=1000))
    res = train_classifier(cfg, synthetic_data(32), out_dir=tmp_path)
    assert res.stopped_early and res.steps < 1000 and res.weights_path.is_file()
    assert read_card("fashion-guide", tmp_path).stopped_early
    assert json.loads((tmp_path / "fashion-guide.json").read_text())["steps"] == res.steps


def test_label_dropout_hits_the_null_label(tmp_path, monkeypatch):
    seen = []
    from diffusers import UNet2DModel

    orig = UNet2DModel.forward

    def spy(self, sample, timestep, class_labels=None, **kw):
        if self.training:
            seen.append(class_labels.clone())
        return orig(self, sample, timestep, class_labels=class_labels, **kw)

    monkeypatch.setattr(UNet2DModel, "forward", spy)
    cfg = DDPMConfig(name="fashion-cond-ddpm", conditional=True, label_dropout=0.5, **tiny_ddpm_kw(steps=2, grid_seeds=0))
    train_ddpm(cfg, synthetic_data(32), out_dir=tmp_path)
    labels = torch.cat(seen)
    assert (labels == 10).any() and (labels < 10).any() and labels.max() <= 10


def test_bad_configs_and_data_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="steps"):
        DDPMConfig(steps=0).validate()
    with pytest.raises(ValueError, match="label_dropout"):
        DDPMConfig(label_dropout=1.5).validate()
    with pytest.raises(ValueError, match="device"):
        ClassifierConfig(device="tpu").validate()
    with pytest.raises(ValueError, match="unknown zoo model 'fashion-vae'"):
        default_config("fashion-vae")
    with pytest.raises(ValueError, match="bad option"):
        default_config("fashion-guide", sample_eval=3)
    images, labels = synthetic_data(8)
    with pytest.raises(ValueError, match="uint8"):
        train_classifier(ClassifierConfig(**tiny_classifier_kw()), (images.float(), labels), out_dir=tmp_path)
    with pytest.raises(ValueError, match="labels"):
        train_classifier(ClassifierConfig(**tiny_classifier_kw()), (images, labels + 5), out_dir=tmp_path)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            train_classifier(ClassifierConfig(device="cuda", **tiny_classifier_kw()), (images, labels), out_dir=tmp_path)


def test_sample_failure_still_leaves_a_card(tmp_path, monkeypatch):
    import doodl.zoo.samples as samples

    def broken(*a, **k):
        raise RuntimeError("sampler exploded")

    monkeypatch.setattr(samples, "sample_grid", broken)
    res = train_ddpm(DDPMConfig(**tiny_ddpm_kw(steps=2)), synthetic_data(16), out_dir=tmp_path)
    card = read_card("fashion-ddpm", tmp_path)
    assert card is not None and card.steps == 2 and "sampler exploded" in card.extra["samples_error"]
    assert res.weights_path.is_file() and "samples_error" in res.extra


def test_sample_metrics_land_in_the_card(tiny_zoo, tmp_path):
    import shutil

    from doodl.data import find_root

    try:
        find_root()
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not installed: sample metrics compare against its test split")
    shutil.copy(tiny_zoo["dir"] / "fashion-eval.safetensors", tmp_path)
    cfg = DDPMConfig(name="fashion-cond-ddpm", conditional=True, sample_eval=6, **tiny_ddpm_kw(steps=2, grid_seeds=0))
    train_ddpm(cfg, synthetic_data(16), out_dir=tmp_path)
    metrics = read_card("fashion-cond-ddpm", tmp_path).extra["samples"]
    assert metrics["n"] == 6 and metrics["fmnist_fid_cfg3"] > 0
    assert 0 <= metrics["class_accuracy_cfg1"] <= 1 and "## fashion-cond-ddpm" in (tmp_path / "README.md").read_text()
