"""File output: atomic writes leave nothing half-written; PNG metadata round-trips; image loading errors."""

from __future__ import annotations

import os

import pytest
import torch
from PIL import Image

from doodl.io import atomic_path, check_writable_dir, grid, load_image, read_png_metadata, save_gif, save_png


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_png_metadata_round_trip(tmp_path):
    img = torch.rand(3, 8, 8)
    p = save_png(tmp_path / "x.png", img, {"seed": 3, "prompt": "a cat", "lr": 0.1})
    assert read_png_metadata(p) == {"seed": 3, "prompt": "a cat", "lr": 0.1}
    back = load_image(p)
    assert back.shape == (1, 3, 8, 8)
    assert (back[0] - img).abs().max() <= 0.5 / 255 + 1e-6


def test_grid_and_gif(tmp_path):
    g = grid([torch.rand(3, 1, 4, 4), torch.rand(2, 1, 4, 4)], pad=1)
    assert g.size == (3 * 5 + 1, 2 * 5 + 1)
    p = save_gif(tmp_path / "a.gif", [torch.rand(3, 4, 4) for _ in range(3)])
    with Image.open(p) as im:
        assert im.n_frames == 3


def test_load_image_resizes_and_converts(tmp_path):
    Image.new("RGBA", (40, 20), (255, 0, 0, 255)).save(tmp_path / "r.png")
    t = load_image(tmp_path / "r.png", size=(16, 16), channels=1)
    assert t.shape == (1, 1, 16, 16) and 0 <= t.min() and t.max() <= 1


def test_load_image_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        load_image(tmp_path / "bad.png", name="IMAGE")


def test_check_writable_dir(tmp_path):
    assert check_writable_dir(tmp_path / "new" / "dir").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="--out .* is not a writable folder"):
        check_writable_dir(tmp_path / "file" / "sub")


def test_atomic_files_honour_the_umask_and_keep_an_existing_mode(tmp_path):
    import os
    import stat

    from doodl.io import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        save_png(tmp_path / "b.png", torch.zeros(3, 2, 2))
        os.umask(0o077)
        atomic_write_text(tmp_path / "c.txt", "x")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(tmp_path / "a.txt") == 0o644 and mode(tmp_path / "b.png") == 0o644 and mode(tmp_path / "c.txt") == 0o600
    os.chmod(tmp_path / "a.txt", 0o664)  # rewriting a file keeps its mode
    atomic_write_text(tmp_path / "a.txt", "y")
    assert mode(tmp_path / "a.txt") == 0o664 and (tmp_path / "a.txt").read_text() == "y"
