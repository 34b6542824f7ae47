"""Scorers by name: --guide options to scorers, weighted guides, CLIP loading from folders, clear errors."""

from __future__ import annotations

import os
import sys
import textwrap
import warnings

import pytest
import torch

from doodl.specs import parse_guide
from doodl.io import save_png
from doodl.scorers import (
    SCORERS,
    AestheticScorer,
    Brightness,
    ClassifierScorer,
    ClipImageScorer,
    ClipTextScorer,
    ScorerContext,
    ScorerModels,
    WeightedSum,
    build_scorer,
    load_clip,
    scorer_from_guides,
)


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    from doodl.testing.clip import save_tiny_clip

    return save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture
def ctx(clip_folder):
    return ScorerContext(prompt="a red cube", clip_model=str(clip_folder), crops=2, image_size=16)


def test_unknown_scorer_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown scorer 'clip'; valid scorers: aesthetic, brightness, classifier, clip-image, clip-text"):
        build_scorer("clip")
    assert set(SCORERS) == {"aesthetic", "brightness", "classifier", "clip-image", "clip-text", "hps", "image-reward", "pickscore"}


def test_guides_combine_into_a_weighted_sum():
    specs = [parse_guide("brightness:0.5"), parse_guide("brightness:2,target=min")]
    s = scorer_from_guides(specs, {"device": "cpu"})
    x = torch.rand(2, 1, 8, 8)
    assert isinstance(s, WeightedSum)
    torch.testing.assert_close(s(x), 0.5 * Brightness(True)(x) + 2 * Brightness(False)(x))
    with pytest.raises(ValueError, match="at least one --guide"):
        scorer_from_guides([])
    with pytest.raises(ValueError, match="unknown scorer context key 'prompts'"):
        scorer_from_guides(specs, {"prompts": "x"})


def test_clip_text_from_a_saved_folder(ctx, clip_folder):
    s = build_scorer("clip-text", ctx, **parse_guide("clip-text,cut-power=0.5,crop-reduce=min").options)
    assert isinstance(s, ClipTextScorer) and s.prompts == ["a red cube"]
    assert s.crops.n_crops == 2 and s.crops.size == 32 and s.crops.cut_power == 0.5 and s.crops.reduction == "min"
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    s(x).sum().backward()
    assert x.grad.abs().sum() > 0
    # the guide's own prompt wins over the run's; crops=0 turns cropping off
    own = build_scorer("clip-text", ctx, prompt="a blue ball", crops="0")
    assert own.prompts == ["a blue ball"] and own.crops is None


def test_clip_ensemble_options_share_loaded_models(ctx, clip_folder):
    models = ScorerModels(ctx)
    folder = str(clip_folder)
    s = build_scorer("clip-text", ctx, models=models, **{"clip-model": f"{folder};{folder}", "weights": "1;3"})
    assert [w for _, w in s.embedders] == [0.25, 0.75]
    assert s.embedders[0][0] is s.embedders[1][0] and len(models.clips) == 1


def test_clip_image_from_reference_files(ctx, tmp_path):
    torch.manual_seed(0)
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"ref{i}.png")
        save_png(paths[-1], torch.rand(3, 20, 24))
    s = build_scorer("clip-image", ctx, references=";".join(str(p) for p in paths))
    assert isinstance(s, ClipImageScorer) and s.n_references == 2
    assert s(torch.rand(1, 3, 16, 16)).shape == (1,)
    with pytest.raises(ValueError, match="needs references"):
        build_scorer("clip-image", ctx)
    with pytest.raises(ValueError, match="does not exist"):
        build_scorer("clip-image", ctx, references=str(tmp_path / "missing.png"))


def test_aesthetic_with_a_head_file_and_dimension_errors(ctx, clip_folder, tmp_path):
    head = tmp_path / "head16.pth"
    torch.save(torch.nn.Linear(16, 1).state_dict(), head)
    s = build_scorer("aesthetic", ctx, **{"clip-model": str(clip_folder), "head": str(head), "target": "min", "crops": 0})
    assert isinstance(s, AestheticScorer) and s.target == 1.0 and s.crops is None
    assert build_scorer("aesthetic", ctx, **{"clip-model": str(clip_folder), "head": str(head), "target": "7.5"}).target == 7.5
    with pytest.raises(ValueError, match="no shipped aesthetic head for 16-dimensional"):
        build_scorer("aesthetic", ctx, **{"clip-model": str(clip_folder)})
    with pytest.raises(ValueError, match="expects 768-dimensional"):
        build_scorer("aesthetic", ctx, **{"clip-model": str(clip_folder), "head": "vit-l-14"})


def test_classifier_from_a_file_and_a_callable(ctx, tmp_path, monkeypatch):
    net = _PoolNet()
    path = tmp_path / "clf.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net).save(str(path))
    s = build_scorer("classifier", ctx, classifier=str(path), **{"class": "3", "crops": "0"})
    assert isinstance(s, ClassifierScorer) and s(torch.rand(2, 3, 16, 16)).shape == (2,)
    (tmp_path / "h2_reg_models.py").write_text(textwrap.dedent("""
        import torch
        def build():
            torch.manual_seed(0)
            return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 4))
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "h2_reg_models", raising=False)
    s = build_scorer("classifier", ctx, classifier="h2_reg_models:build", **{"class": 1, "num-classes": 4, "input-size": 8})
    assert s.crops is not None and s.crops.size == 8  # input-size sets the crop size
    assert s(torch.rand(2, 3, 16, 16)).shape == (2,)
    with pytest.raises(ValueError, match=r"valid range 0\.\.3"):
        build_scorer("classifier", ctx, classifier="h2_reg_models:build", **{"class": 9, "num-classes": 4})
    with pytest.raises(ValueError, match="needs class=N"):
        build_scorer("classifier", ctx, classifier=str(path))
    with pytest.raises(FileNotFoundError, match="not found"):
        build_scorer("classifier", ctx, classifier=str(tmp_path / "nope.pt"), **{"class": 1})


class _PoolNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(3, 5)

    def forward(self, x):
        return self.fc(x.mean((2, 3)))


def test_classifier_efficientnet_by_name(efficientnet, ctx):
    s = build_scorer("classifier", ctx, classifier="efficientnet-lite0", **{"class": "207", "crops": "0"})
    assert s.num_classes == 1000
    with pytest.raises(ValueError, match=r"target class 1000 is out of range.*valid range 0\.\.999"):
        build_scorer("classifier", ctx, **{"class": "1000", "crops": "0"})


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("brightness", {"colour": "red"}, "unknown option 'colour'; valid options: target"),
        ("brightness", {"target": "up"}, "option target must be one of max, min"),
        ("clip-text", {"crops": "-1"}, "option crops must be an integer >= 0"),
        ("clip-text", {"crops": "two"}, "option crops must be an integer"),
        ("clip-text", {"cut-power": "abc"}, "option cut-power must be a number"),
        ("clip-text", {"cut-power": "0"}, "option cut-power must be a finite number > 0"),
        ("clip-text", {"weights": "-1"}, "option weights must be ';'-separated finite numbers >= 0"),
        ("clip-text", {"weights": "nan"}, "option weights must be ';'-separated finite numbers >= 0"),
        ("clip-text", {"weights": "0"}, "weights must not all be zero"),
        ("clip-text", {"weights": "1;2"}, "weights has 2 values for 1 CLIP models"),
        ("aesthetic", {"target": "nan"}, "option target must be a finite number"),
        ("classifier", {"class": "x"}, "option class must be an integer"),
        ("classifier", {"class": "1", "loss": "mse"}, "option loss must be one of ce, bce"),
    ],
)
def test_option_errors_name_the_option(ctx, name, options, match):
    with pytest.raises(ValueError, match=match):
        build_scorer(name, ctx, **options)


def test_clip_text_needs_a_prompt(clip_folder):
    with pytest.raises(ValueError, match="needs a prompt"):
        build_scorer("clip-text", ScorerContext(clip_model=str(clip_folder)))


def test_load_clip_round_trip_and_errors(clip_folder, tmp_path, tiny_clip):
    emb = load_clip(clip_folder)
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(emb.embed_images(x), tiny_clip.embed_images(x))
    torch.testing.assert_close(emb.embed_text(["a red cube"]), tiny_clip.embed_text(["a red cube"]))
    assert not any(p.requires_grad for p in emb.model.parameters())
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    with pytest.raises(FileNotFoundError, match=r"not found: looked for .*network access \(HF_HUB_OFFLINE=1"):
        load_clip("nobody/no-such-clip")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_clip(tmp_path)
    with pytest.raises(ValueError, match="must not be empty"):
        load_clip(" ")


def test_open_clip_names_need_open_clip():
    try:
        import open_clip  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="open_clip is not installed"):
            load_clip("open_clip:ViT-B-32/openai")
    else:  # installed: the name must still be well formed
        with pytest.raises(ValueError, match="ARCH/PRETRAINED"):
            load_clip("open_clip:/openai")


@pytest.mark.weights
def test_real_clip_models_load_and_guide():
    """Needs the hub (or a warm cache): the paper's CLIPs by short name, and the aesthetic guide on ViT-L/14."""
    ctx = ScorerContext(prompt="a photo of a dog", crops=2)
    s = build_scorer("clip-text", ctx, **{"clip-model": "vit-b-32"})
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    s(x).sum().backward()
    assert x.grad.abs().sum() > 0
    a = build_scorer("aesthetic", ctx)
    assert 1.0 < a.rating(torch.rand(1, 3, 224, 224)).item() < 10.0
