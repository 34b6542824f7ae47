"""Loading zoo models by name: the folder rules and clear errors for missing, corrupt and foreign files."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import save_file

from doodl.zoo import load_classifier, load_fashion_backend, load_unet, weights_path
from doodl.zoo.registry import PACKAGE_DIR, read_weights


def test_weights_path_rules(tmp_path, monkeypatch):
    monkeypatch.delenv("DOODL_ZOO_DIR", raising=False)
    assert weights_path("fashion-guide") == PACKAGE_DIR / "fashion-guide.safetensors"
    monkeypatch.setenv("DOODL_ZOO_DIR", str(tmp_path))
    assert weights_path("fashion-eval") == tmp_path / "fashion-eval.safetensors"
    assert weights_path("fashion-eval", "/elsewhere").parent.name == "elsewhere"


def test_unknown_and_wrong_kind_names_list_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown zoo model 'fashion'.*fashion-guide"):
        weights_path("fashion")
    with pytest.raises(ValueError, match="valid: fashion-guide, fashion-eval"):
        load_classifier("fashion-ddpm", weights_dir=tmp_path)
    with pytest.raises(ValueError, match="valid: fashion-ddpm, fashion-cond-ddpm"):
        load_unet("fashion-eval", weights_dir=tmp_path)


def test_missing_file_names_it_and_the_command(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_classifier("fashion-eval", weights_dir=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "fashion-eval.safetensors") in msg and "doodl zoo train --model fashion-eval" in msg
    with pytest.raises(FileNotFoundError, match="fashion-cond-ddpm.safetensors"):
        load_fashion_backend(conditional=True, weights_dir=tmp_path)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_file_names_it(tiny_zoo, tmp_path, damage):
    src = tiny_zoo["dir"] / "fashion-guide.safetensors"
    dst = tmp_path / "fashion-guide.safetensors"
    blob = src.read_bytes()
    dst.write_bytes({"garbage": b"\x13\x37not a safetensors file" * 50, "truncated": blob[: len(blob) // 2],
                     "empty": b""}[damage])
    with pytest.raises(ValueError, match="corrupt") as e:
        load_classifier("fashion-guide", weights_dir=tmp_path)
    assert str(dst) in str(e.value)


def test_foreign_safetensors_and_mismatched_weights_name_the_file(tiny_zoo, tmp_path):
    path = tmp_path / "fashion-eval.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ValueError, match="not a doodl zoo file") as e:
        load_classifier("fashion-eval", weights_dir=tmp_path)
    assert str(path) in str(e.value)
    # a guidance-CNN file under the evaluation name still loads as what its metadata says it is ...
    shutil.copy(tiny_zoo["dir"] / "fashion-guide.safetensors", path)
    assert type(load_classifier("fashion-eval", weights_dir=tmp_path)).__name__ == "GuidanceCNN"
    # ... but tensors that do not fit the architecture are refused, naming the file
    tensors, meta = read_weights(path)
    tensors.pop(next(iter(tensors)))
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ValueError, match="does not match its architecture") as e:
        load_classifier("fashion-eval", weights_dir=tmp_path)
    assert str(path) in str(e.value)


def test_backend_refuses_a_unet_of_the_other_kind(tiny_zoo, tmp_path):
    shutil.copy(tiny_zoo["dir"] / "fashion-ddpm.safetensors", tmp_path / "fashion-cond-ddpm.safetensors")
    with pytest.raises(ValueError, match="unconditional"):
        load_fashion_backend(conditional=True, weights_dir=tmp_path)


def test_env_var_selects_the_folder(tiny_zoo, monkeypatch):
    monkeypatch.setenv("DOODL_ZOO_DIR", str(tiny_zoo["dir"]))
    backend = load_fashion_backend(conditional=False, dtype=torch.float64)
    assert backend.dtype == torch.float64 and backend.schedule.num_train_timesteps == 1000
    assert not any(p.requires_grad for p in backend.unet.parameters())
