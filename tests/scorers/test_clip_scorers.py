"""CLIP: eq. 10, the embedder over transformers and OpenCLIP-style models, text and image guidance, ensembles."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from doodl.scorers import ClipEmbedder, ClipImageScorer, ClipTextScorer, MultiCrop, spherical_distance


def test_spherical_distance_known_values():
    e = torch.eye(3, dtype=torch.float64)
    assert spherical_distance(e[0], e[0]).item() == pytest.approx(0.0, abs=1e-12)
    assert spherical_distance(e[0], e[1]).item() == pytest.approx(math.pi**2 / 8)  # 90 degrees: 2 (pi/4)^2
    assert spherical_distance(e[0], -e[0]).item() == pytest.approx(math.pi**2 / 2)  # opposite: 2 (pi/2)^2
    assert spherical_distance(5 * e[0], 0.1 * e[1]).item() == pytest.approx(math.pi**2 / 8)  # scale-free
    # broadcasting (N, 1, D) x (1, M, D) -> (N, M)
    assert spherical_distance(e[:, None], e[None]).shape == (3, 3)
    with pytest.raises(ValueError, match="last dimension"):
        spherical_distance(torch.ones(2, 3), torch.ones(2, 4))


def test_spherical_distance_grows_with_angle_and_is_smooth_at_zero():
    angles = torch.linspace(0, math.pi, 7, dtype=torch.float64)
    a = torch.stack([angles.cos(), angles.sin()], dim=-1)
    d = spherical_distance(a, torch.tensor([1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(d, angles**2 / 2)  # half the squared geodesic angle
    x = torch.tensor([[1.0, 0.0]], requires_grad=True)
    spherical_distance(x, torch.tensor([[1.0, 0.0]])).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_tiny_clip_gives_gradients_to_the_image(tiny_clip):
    scorer = ClipTextScorer(tiny_clip, "a red cube")
    x = torch.rand(2, 3, 48, 48, dtype=torch.float64, requires_grad=True)
    loss = scorer(x)
    assert loss.shape == (2,) and loss.dtype == torch.float64
    loss.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_prompts_embed_differently(tiny_clip):
    t = tiny_clip.embed_text(["a red cube", "a blue ball"])
    assert t.shape == (2, 16)
    assert spherical_distance(t[0], t[1]) > 1e-3


def test_gradient_steps_lower_the_text_loss(tiny_clip):
    scorer = ClipTextScorer(tiny_clip, "a red cube", crops=MultiCrop(n_crops=4, size=32, seed=0))
    torch.manual_seed(0)
    p = torch.zeros(1, 3, 40, 40, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.05)
    first = None
    for _ in range(8):
        opt.zero_grad()
        loss = scorer(torch.sigmoid(p)).sum()
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
    assert scorer(torch.sigmoid(p)).item() < first - 1e-3


def _count_image_calls(monkeypatch, embedder):
    calls = []
    original = embedder.model.get_image_features

    def spy(*args, **kwargs):
        calls.append(kwargs["pixel_values"].shape[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(embedder.model, "get_image_features", spy)
    return calls


def test_all_crops_scored_in_one_network_call_per_model(monkeypatch, tiny_clip, tiny_clip_b):
    scorer = ClipTextScorer([(tiny_clip, 1.0), (tiny_clip_b, 1.0)], "a dog", crops=MultiCrop(n_crops=16, size=32))
    calls_a, calls_b = _count_image_calls(monkeypatch, tiny_clip), _count_image_calls(monkeypatch, tiny_clip_b)
    assert scorer(torch.rand(3, 3, 64, 64)).shape == (3,)
    assert calls_a == [48] and calls_b == [48]


def test_ensemble_is_the_normalised_weighted_mean(tiny_clip, tiny_clip_b):
    x = torch.rand(2, 3, 32, 32)
    d_a = ClipTextScorer(tiny_clip, "a cat")(x)
    d_b = ClipTextScorer(tiny_clip_b, "a cat")(x)
    both = ClipTextScorer([(tiny_clip, 1.0), (tiny_clip_b, 3.0)], "a cat")(x)
    torch.testing.assert_close(both, 0.25 * d_a + 0.75 * d_b)
    only_b = ClipTextScorer([(tiny_clip, 0.0), (tiny_clip_b, 2.0)], "a cat")(x)
    torch.testing.assert_close(only_b, d_b)


def test_several_prompts_average_the_distance(tiny_clip):
    x = torch.rand(2, 3, 32, 32)
    one, two = ClipTextScorer(tiny_clip, "a cat")(x), ClipTextScorer(tiny_clip, "a dog")(x)
    torch.testing.assert_close(ClipTextScorer(tiny_clip, ["a cat", "a dog"])(x), (one + two) / 2)


class OpenClipLike(torch.nn.Module):
    """An OpenCLIP-style model (encode_image / encode_text, visual.image_size) around a transformers CLIPModel."""

    def __init__(self, hf):
        super().__init__()
        self.hf = hf
        self.visual = torch.nn.Module()
        self.visual.image_size = (32, 32)

    def encode_image(self, x):
        return self.hf.get_image_features(pixel_values=x).pooler_output

    def encode_text(self, tokens):
        return self.hf.get_text_features(input_ids=tokens).pooler_output


def test_openclip_style_models_are_accepted(tiny_clip):
    tok = tiny_clip.tokenizer
    wrapped = ClipEmbedder(OpenClipLike(tiny_clip.model), lambda ps: tok(ps, padding="max_length", max_length=77, return_tensors="pt")["input_ids"])
    assert wrapped.kind == "open_clip" and wrapped.image_size == 32
    x = torch.rand(2, 3, 40, 40)
    torch.testing.assert_close(wrapped.embed_images(x), tiny_clip.embed_images(x))
    torch.testing.assert_close(wrapped.embed_text(["a red cube"]), tiny_clip.embed_text(["a red cube"]), atol=1e-5, rtol=1e-4)
    assert wrapped.embed_dim == 16  # found by embedding a blank image


def test_embedder_errors(tiny_clip):
    with pytest.raises(ValueError, match="CLIPModel"):
        ClipEmbedder(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="tokenizer"):
        ClipEmbedder(tiny_clip.model).embed_text(["a cat"])
    with pytest.raises(ValueError, match="images must have 1 or 3 channels"):
        tiny_clip.embed_images(torch.rand(1, 4, 32, 32))


def test_grayscale_images_are_expanded(tiny_clip):
    g = torch.rand(2, 1, 32, 32)
    torch.testing.assert_close(tiny_clip.embed_images(g), tiny_clip.embed_images(g.expand(-1, 3, -1, -1)))


@pytest.mark.parametrize("images", [torch.rand(2, 4, 32, 32), torch.rand(2, 2, 32, 32), torch.rand(3, 32, 32)])
def test_wrong_images_name_images(tiny_clip, images):
    with pytest.raises(ValueError, match="images"):
        ClipTextScorer(tiny_clip, "a cat")(images)


def test_bad_prompts_and_weights(tiny_clip):
    with pytest.raises(ValueError, match="prompts must not be empty"):
        ClipTextScorer(tiny_clip, [])
    with pytest.raises(ValueError, match="strings"):
        ClipTextScorer(tiny_clip, ["a cat", 3])  # type: ignore[list-item]
    for w in (-0.5, math.nan, math.inf):
        with pytest.raises(ValueError, match="CLIP weight 0"):
            ClipTextScorer([(tiny_clip, w)], "a cat")
    with pytest.raises(ValueError, match="not all be zero"):
        ClipTextScorer([(tiny_clip, 0.0)], "a cat")
    with pytest.raises(ValueError, match="at least one"):
        ClipTextScorer([], "a cat")
    with pytest.raises(ValueError, match="MultiCrop"):
        ClipTextScorer(tiny_clip, "a cat", crops=4)  # type: ignore[arg-type]


def test_image_guidance_is_zero_on_the_reference_and_positive_elsewhere(tiny_clip):
    torch.manual_seed(1)
    ref, other = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    scorer = ClipImageScorer(tiny_clip, ref)
    assert scorer(ref).item() == pytest.approx(0.0, abs=1e-5)
    assert scorer(other).item() > 1e-3
    x = other.clone().requires_grad_(True)
    scorer(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_several_references_target_their_mean_direction(tiny_clip, tiny_clip_b):
    torch.manual_seed(2)
    refs = [torch.rand(3, 32, 32), torch.rand(1, 3, 48, 40)]  # any sizes, 3-d or 4-d
    scorer = ClipImageScorer([(tiny_clip, 1.0), (tiny_clip_b, 1.0)], refs)
    assert scorer.n_references == 2
    for (emb, _), target in zip(scorer.embedders, scorer.targets):
        e = torch.cat([F.normalize(emb.embed_images(r if r.ndim == 4 else r[None]), dim=-1) for r in refs])
        torch.testing.assert_close(target, F.normalize(e.mean(0, keepdim=True), dim=-1))


def test_image_guidance_bad_references(tiny_clip):
    with pytest.raises(ValueError, match="reference_images must not be empty"):
        ClipImageScorer(tiny_clip, [])
    with pytest.raises(ValueError, match=r"reference_images\[0\] must have 1 or 3 channels"):
        ClipImageScorer(tiny_clip, torch.rand(1, 4, 32, 32))
    with pytest.raises(ValueError, match="tensor"):
        ClipImageScorer(tiny_clip, ["ref.png"])  # type: ignore[list-item]
