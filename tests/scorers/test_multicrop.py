"""MultiCrop: cut sizes and positions, determinism, reduction, gradients, one batched scoring call."""

from __future__ import annotations

import math

import pytest
import torch

from doodl.scorers import MultiCrop


def test_crops_shape_and_crop_major_layout():
    mc = MultiCrop(n_crops=5, size=6, seed=0)
    x = torch.rand(3, 2, 20, 16)
    c = mc.crops(x)
    assert c.shape == (15, 2, 6, 6)
    # every image of the batch gets the same cuts: rows k*B + b and k*B + b' come from one cut of two images
    mc2 = MultiCrop(n_crops=5, size=6, seed=0)
    single = mc2.crops(x[1:2])
    torch.testing.assert_close(c[1::3], single)


def test_cuts_inside_image_and_sizes_in_range():
    mc = MultiCrop(n_crops=200, cut_power=1.0, size=8, seed=3)
    h, w = 30, 20
    cuts = mc.draw(h, w)
    for top, left, side in cuts:
        assert 8 <= side <= 20 and 0 <= top <= h - side and 0 <= left <= w - side
    sides = {s for _, _, s in cuts}
    assert len(sides) > 5  # sizes vary


def test_cut_power_favours_small_cuts():
    big = [s for _, _, s in MultiCrop(n_crops=300, cut_power=0.3, size=8, seed=0).draw(64, 64)]
    small = [s for _, _, s in MultiCrop(n_crops=300, cut_power=3.0, size=8, seed=0).draw(64, 64)]
    assert sum(small) / len(small) < sum(big) / len(big) - 10


def test_deterministic_given_seed_or_generator():
    x = torch.rand(2, 3, 24, 24)
    a = MultiCrop(n_crops=4, size=8, seed=11).crops(x)
    b = MultiCrop(n_crops=4, size=8, generator=torch.Generator().manual_seed(11)).crops(x)
    c = MultiCrop(n_crops=4, size=8, seed=12).crops(x)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    mc = MultiCrop(n_crops=4, size=8, seed=11)
    assert mc.draw(24, 24) != mc.draw(24, 24)  # the generator advances between calls


def test_image_smaller_than_size_is_upsampled_whole():
    mc = MultiCrop(n_crops=3, size=16, seed=0)
    assert mc.draw(8, 8) == [(0, 0, 8)] * 3
    assert mc.crops(torch.rand(1, 1, 8, 8)).shape == (3, 1, 16, 16)


def test_reduce_mean_and_min_per_image():
    losses = torch.tensor([1.0, 10.0, 3.0, 20.0, 2.0, 30.0])  # 3 crops x 2 images, crop-major
    torch.testing.assert_close(MultiCrop(n_crops=3).reduce(losses, 2), torch.tensor([2.0, 20.0]))
    torch.testing.assert_close(MultiCrop(n_crops=3, reduce="min").reduce(losses, 2), torch.tensor([1.0, 10.0]))
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        MultiCrop(n_crops=3).reduce(losses[:5], 2)


def test_apply_scores_all_crops_in_one_call_with_gradient():
    calls = []

    def loss(v):
        calls.append(v.shape[0])
        return v.flatten(1).mean(1)

    x = torch.rand(2, 3, 40, 40, requires_grad=True)
    out = MultiCrop(n_crops=16, size=12, seed=0).apply(x, loss)
    assert calls == [32] and out.shape == (2,)
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_crops=0), "n_crops"),
        (dict(n_crops=2.5), "n_crops"),
        (dict(cut_power=0), "cut_power"),
        (dict(cut_power=math.nan), "cut_power"),
        (dict(size=0), "size"),
        (dict(reduce="max"), "reduce"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiCrop(**kwargs)


def test_bad_images():
    with pytest.raises(ValueError, match="images"):
        MultiCrop().crops(torch.rand(3, 8, 8))
