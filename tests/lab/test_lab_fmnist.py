"""The image lab on stand-in pixel backends (tiny, offline), and its real run on the zoo (skipped without weights)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from doodl.backends import PixelBackend
from doodl.evaluation import sliced_wasserstein
from doodl.lab.fmnist import FmnistConfig, FmnistParts, run_fmnist_lab

pytest.importorskip("faiss")


def _fake_images(n_per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat_interleave(n_per_class)
    base = torch.linspace(0.1, 0.9, 10)[labels].reshape(-1, 1, 1, 1)
    return (base + 0.05 * torch.randn(labels.numel(), 1, 8, 8, generator=g)).clamp(0, 1), labels


@pytest.fixture
def parts(toy_backend):
    cond = PixelBackend(toy_backend.unet, toy_backend.schedule, pad=2, num_classes=10)
    x, y = _fake_images(12, 0)
    ref, _ = _fake_images(5, 1)
    fid = lambda a, b: sliced_wasserstein(a.flatten(1), b.flatten(1), 32, torch.Generator().manual_seed(0))  # noqa: E731
    return FmnistParts(toy_backend, cond, x, y, ref, fid)


def test_image_lab_end_to_end_on_stand_ins(tmp_path, parts):
    cfg = replace(FmnistConfig(cg_scales=(0.0, 2.0), cfg_scales=(1.0, 3.0)).quick(), n_per_class=2, n_flow=2)
    res = run_fmnist_lab(cfg, tmp_path, parts=parts)
    table = json.loads((tmp_path / "table.json").read_text())
    assert table == json.loads(json.dumps(res.table))
    assert set(table["cg"]) == {"0", "2"} and set(table["cfg"]) == {"1", "3"}
    assert all(set(c) == {"before", "after"} for row in table.values() for c in row.values())
    assert (tmp_path / "samples_cg.png").is_file() and (tmp_path / "samples_cfg.png").is_file()


def test_image_lab_k_larger_than_a_class_is_a_clear_error(tmp_path, parts):
    with pytest.raises(ValueError, match=r"k \(20\) is larger than the real set of the smallest class \(12"):
        run_fmnist_lab(replace(FmnistConfig().quick(), k=20), tmp_path, parts=parts)


def test_bad_config():
    with pytest.raises(ValueError, match="cg_scales"):
        FmnistConfig(cg_scales=(-1.0,))
    with pytest.raises(ValueError, match="n_per_class"):
        FmnistConfig(n_per_class=0)


@pytest.mark.slow
@pytest.mark.weights
def test_real_fmnist_lab_quick(tmp_path):
    from doodl.zoo import weights_path

    missing = [n for n in ("fashion-ddpm", "fashion-cond-ddpm", "fashion-eval") if not weights_path(n).is_file()]
    if missing:
        pytest.skip(f"zoo weights missing: {missing} (doodl zoo train --model all)")
    try:
        from doodl.data import find_root

        find_root()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    res = run_fmnist_lab(FmnistConfig().quick(), tmp_path)
    assert set(res.table) == {"cfg", "cg"}
