"""load_image on 16-bit, float and transparent files: scaled to [0, 1] as the file means it, or refused by mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from doodl.io import load_image


def ramp(dtype, top) -> np.ndarray:
    return (np.linspace(0, 1, 32 * 32).reshape(32, 32) * top).astype(dtype)


def test_16_bit_png_is_divided_by_65535(tmp_path):
    a = ramp(np.uint16, 65535)
    Image.fromarray(a).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")  # what makes it a 16-bit load
    t = load_image(tmp_path / "g16.png", channels=1)
    assert t.dtype == torch.float32 and t.shape == (1, 1, 32, 32)
    assert torch.allclose(t[0, 0].double(), torch.from_numpy(a / 65535.0), atol=1e-6)  # not 8-bit, not saturated
    rgb = load_image(tmp_path / "g16.png", channels=3)
    assert torch.allclose(rgb, t.expand(1, 3, 32, 32)) and abs(float(rgb.mean()) - a.mean() / 65535) < 1e-6


def test_float_tiff_in_0_1_loads_as_is_and_out_of_range_is_refused(tmp_path):
    f = ramp(np.float32, 1.0)
    Image.fromarray(f).save(tmp_path / "f.tif")
    t = load_image(tmp_path / "f.tif", channels=1)
    assert torch.allclose(t[0, 0], torch.from_numpy(f), atol=1e-7) and float(t.mean()) == pytest.approx(0.5, abs=1e-6)
    Image.fromarray(f * 255).save(tmp_path / "f255.tif")
    with pytest.raises(ValueError, match=r"mode 'F'.*\[0, 1\].*255"):
        load_image(tmp_path / "f255.tif")


def test_resizing_keeps_16_bit_precision(tmp_path):
    Image.fromarray(np.full((20, 40), 1000, np.uint16)).save(tmp_path / "flat.png")
    t = load_image(tmp_path / "flat.png", size=(10, 10), channels=1)
    assert t.shape == (1, 1, 10, 10) and torch.allclose(t, torch.full_like(t, 1000 / 65535), atol=1e-6)


def test_alpha_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red
    rgba[:, :2, 3] = 255  # left half opaque, right half fully transparent
    rgba[0, 0, 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    t = load_image(tmp_path / "a.png")[0]
    assert torch.allclose(t[:, 1, 0], torch.tensor([1.0, 0.0, 0.0]))  # opaque red stays red
    assert torch.allclose(t[:, 1, 3], torch.ones(3))  # transparent: the white background, not black red-less
    assert torch.allclose(t[:, 0, 0], torch.tensor([1.0, 127 / 255, 127 / 255]), atol=1 / 255)  # half: a blend
    la = np.stack([np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)], -1)  # black, all transparent
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    assert torch.allclose(load_image(tmp_path / "la.png", channels=1), torch.ones(1, 1, 4, 4))
    p = Image.new("P", (4, 4), 0)
    p.putpalette([0, 0, 0, 255, 255, 255])
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png", transparency=0)
    assert torch.allclose(load_image(tmp_path / "p.png"), torch.ones(1, 3, 4, 4))


def test_32_bit_integer_tiff_is_refused_naming_the_mode(tmp_path):
    Image.fromarray(np.full((4, 4), 70000, np.int32)).save(tmp_path / "i.tif")
    with pytest.raises(ValueError, match=r"mode 'I'"):
        load_image(tmp_path / "i.tif")
