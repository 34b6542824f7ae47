"""Aesthetic guidance: the shipped LAION heads, |a(x) - A|, dimension checks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import doodl
from doodl.scorers import AESTHETIC_HEADS, AestheticScorer, MultiCrop, aesthetic_head_path, load_aesthetic_head


def test_shipped_heads_load_weights_only_with_license():
    l14 = load_aesthetic_head()
    assert isinstance(l14, torch.nn.Linear) and (l14.in_features, l14.out_features) == (768, 1)
    assert not any(p.requires_grad for p in l14.parameters())
    for name, dim in [("vit-b-32", 512), ("vit-b-16", 512)]:
        assert load_aesthetic_head(name=name).in_features == dim
    folder = aesthetic_head_path().parent
    package = Path(doodl.__file__).parent
    assert folder == package / "data" / "laion_aesthetic"
    assert (folder / "LICENSE").read_text().startswith("MIT License")
    assert "LAION-AI/aesthetic-predictor" in (folder / "SOURCE.md").read_text()
    assert {p.name for p in folder.glob("*.pth")} == {f for f, _ in AESTHETIC_HEADS.values()}


def test_head_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_aesthetic_head(tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="unknown aesthetic head"):
        load_aesthetic_head(name="vit-h-14")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="weights-only"):
        load_aesthetic_head(bad)
    wrong = tmp_path / "wrong.pth"
    torch.save({"weight": torch.zeros(2, 16), "bias": torch.zeros(2)}, wrong)
    with pytest.raises(ValueError, match=r"nn.Linear\(D, 1\)"):
        load_aesthetic_head(wrong)


@pytest.fixture
def tiny_head(tmp_path):
    torch.manual_seed(0)
    head = torch.nn.Linear(16, 1)
    path = tmp_path / "head.pth"
    torch.save(head.state_dict(), path)
    return load_aesthetic_head(path)


def test_loss_is_distance_to_target_on_normalised_embedding(tiny_clip, tiny_head):
    x = torch.rand(3, 3, 32, 32)
    a = tiny_head(F.normalize(tiny_clip.embed_images(x), dim=-1)).squeeze(-1)
    for target in (10.0, 1.0, a[0].item()):
        s = AestheticScorer(tiny_clip, tiny_head, target=target)
        torch.testing.assert_close(s.rating(x), a)
        torch.testing.assert_close(s(x), (a - target).abs())
    assert AestheticScorer(tiny_clip, tiny_head, target=a[0].item())(x)[0].item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_descent_moves_the_rating_toward_the_target(tiny_clip, tiny_head):
    torch.manual_seed(0)
    p = torch.zeros(1, 3, 40, 40, requires_grad=True)
    start = AestheticScorer(tiny_clip, tiny_head).rating(torch.sigmoid(p)).item()
    for target in (start + 5.0, start - 5.0):
        q = p.detach().clone().requires_grad_(True)
        s = AestheticScorer(tiny_clip, tiny_head, target=target, crops=MultiCrop(n_crops=4, size=32, seed=0))
        opt = torch.optim.Adam([q], lr=0.05)
        for _ in range(5):
            opt.zero_grad()
            s(torch.sigmoid(q)).sum().backward()
            opt.step()
        moved = s.rating(torch.sigmoid(q)).item() - start
        assert moved * (target - start) > 0  # moved toward the target


def test_head_must_match_the_embedding_size(tiny_clip):
    with pytest.raises(ValueError, match=r"expects 768-dimensional CLIP embeddings but .* gives 16"):
        AestheticScorer(tiny_clip, load_aesthetic_head())
    with pytest.raises(ValueError, match="one rating"):
        AestheticScorer(tiny_clip, torch.nn.Linear(16, 2))


@pytest.mark.parametrize("target", [math.nan, math.inf, "10", None])
def test_bad_target(tiny_clip, tiny_head, target):
    with pytest.raises(ValueError, match="target"):
        AestheticScorer(tiny_clip, tiny_head, target=target)  # type: ignore[arg-type]


def test_bad_images(tiny_clip, tiny_head):
    with pytest.raises(ValueError, match="images"):
        AestheticScorer(tiny_clip, tiny_head)(torch.rand(1, 4, 32, 32))
