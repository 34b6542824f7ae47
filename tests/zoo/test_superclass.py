"""The superclass model (DOODL §5.2's "knows only the superclass"): label mapping, bad input, tiny training from an
existing zoo DDPM, and the shipped weights' card and loading."""

from __future__ import annotations

import pytest
import torch

import doodl
from conftest import synthetic_data, tiny_ddpm_kw

from doodl.zoo import default_config, load_fashion_backend, read_card, train_ddpm, weights_path
from doodl.zoo.superclass import SUPER_NAMES, check_target_in_super, super_index, superclass_of, to_super_labels


def test_every_fine_class_has_one_superclass():
    assert SUPER_NAMES == ("tops", "trousers", "footwear", "bags")
    assert to_super_labels(torch.arange(10)).tolist() == [0, 1, 0, 0, 0, 2, 0, 2, 3, 2]
    assert superclass_of("ankle boot") == 2 and super_index("Footwear") == 2 and super_index("bag") == 3


def test_bad_superclass_and_target_outside_it_name_both():
    with pytest.raises(ValueError, match="unknown superclass 'hats'.*footwear"):
        super_index("hats")
    with pytest.raises(ValueError, match="'Sneaker' is not in superclass 'tops'.*belongs to 'footwear'"):
        check_target_in_super("sneaker", "tops")
    assert check_target_in_super(9, "footwear") == (9, 2)


def test_tiny_superclass_model_starts_from_the_class_conditional_one(tmp_path):
    from doodl.zoo import load_unet
    from doodl.zoo.train import _init_from
    from doodl.zoo.models import unet_config
    from doodl.zoo.registry import build_module

    data = synthetic_data(64)
    train_ddpm(default_config("fashion-cond-ddpm", **tiny_ddpm_kw(grid_seeds=0)), data, out_dir=tmp_path)
    fresh = build_module("UNet2DModel", unet_config(True, tiny_ddpm_kw()["unet_config"], 4))
    _init_from(fresh, "fashion-cond-ddpm", tmp_path)  # superclass embedding = mean of its classes' embeddings
    src = load_unet("fashion-cond-ddpm", weights_dir=tmp_path).class_embedding.weight
    torch.testing.assert_close(fresh.class_embedding.weight[2], src[[5, 7, 9]].mean(0))
    torch.testing.assert_close(fresh.class_embedding.weight[4], src[10])
    cfg = default_config("fashion-super-ddpm", **tiny_ddpm_kw(steps=3, grid_seeds=1))
    res = train_ddpm(cfg, data, out_dir=tmp_path)
    card = read_card("fashion-super-ddpm", tmp_path)
    assert card.extra["labels"]["footwear"] == ["Sandal", "Sneaker", "Ankle boot"]
    assert "fashion-cond-ddpm" in card.extra["init_from"]
    b = load_fashion_backend(name="fashion-super-ddpm", weights_dir=tmp_path)
    assert b.num_classes == 4 and b.family == "vp-linear" and res.steps == 3
    assert b.unet.class_embedding.weight.shape == (5, b.unet.class_embedding.weight.shape[1])  # 4 + null
    with pytest.raises(ValueError, match="class_label must lie in"):
        b.denoiser(doodl.Conditioning(class_label=7))(torch.zeros(1, 1, 32, 32), 10)
    with pytest.raises(ValueError, match="init_from"):
        default_config("fashion-super-ddpm", init_from="fashion-guide")


@pytest.mark.skipif(not weights_path("fashion-super-ddpm").exists(), reason="superclass weights not shipped")
def test_shipped_superclass_model_card_and_loading():
    card = read_card("fashion-super-ddpm")
    assert card is not None and card.kind == "ddpm" and card.config["labels"] == "super"
    b = load_fashion_backend(name="fashion-super-ddpm")
    assert b.num_classes == 4
    import doodl

    assert doodl.load_backend("fashion-super").num_classes == 4
