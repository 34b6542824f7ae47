"""Rewards (PickScore, HPSv2.1, ImageReward) on tiny random networks: values against transformers' own heads,
shapes, gradients to the pixels, weighted sums with CLIP, registry entries and loader errors."""

from __future__ import annotations

import pytest
import torch

from doodl.scorers import ClipEmbedder, ClipTextScorer, WeightedSum
from doodl.scorers.registry import SCORERS, build_scorer
from doodl.scorers.rewards import IMAGE_REWARD_MEAN, IMAGE_REWARD_STD, ImageRewardScorer, PreferenceScorer
from doodl.testing.clip import save_tiny_clip, tiny_clip_model
from doodl.testing.rewards import OpenClipStyle, save_tiny_image_reward, tiny_bert_tokenizer, tiny_blip
from doodl.testing.tokenizer import tiny_clip_tokenizer


@pytest.fixture(scope="module")
def blip_parts(tmp_path_factory):
    net = tiny_blip(0)
    tok = tiny_bert_tokenizer(tmp_path_factory.mktemp("tok"))
    return net, tok


def _image_reward(net, tok, prompt="a red cube", head=None):
    head = head if head is not None else (lambda h: net.itm_head(h)[:, 1:2])
    return ImageRewardScorer(net.vision_model, net.text_encoder, head, tok, prompt, image_size=32)


def test_pickscore_equals_clip_logits_per_image(tiny_clip):
    scale = float(tiny_clip.model.logit_scale.exp())
    scorer = PreferenceScorer(tiny_clip, "a red cube", scale, name="pickscore")
    x = torch.rand(3, 3, 40, 40)
    tok = tiny_clip_tokenizer()(["a red cube"], padding="max_length", max_length=77, return_tensors="pt")
    with torch.no_grad():
        ref = tiny_clip.model(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"],
                              pixel_values=tiny_clip.preprocess(x)).logits_per_image[:, 0]  # transformers' own head
        got = scorer.score(x)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
    assert scorer(x).shape == (3,) and torch.equal(scorer(x), -got)
    assert (got.abs() <= scale + 1e-4).all()  # |scale * cos| <= scale


def test_hps_on_an_open_clip_style_model_is_the_cosine():
    clip = tiny_clip_model(0)
    wrapped = OpenClipStyle(clip, tiny_clip_tokenizer())
    emb = ClipEmbedder(wrapped, wrapped.tokenize, name="tiny-hps")
    assert emb.kind == "open_clip"
    scorer = PreferenceScorer(emb, ["a cat", "a dog"], 1.0, name="hps")
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        i = torch.nn.functional.normalize(wrapped.encode_image(emb.preprocess(x)).double(), dim=-1)
        t = torch.nn.functional.normalize(wrapped.encode_text(wrapped.tokenize(["a cat", "a dog"])).double(), dim=-1)
    torch.testing.assert_close(scorer.score(x), (i @ t.T).mean(dim=1), rtol=1e-5, atol=1e-5)
    assert ((scorer(x) >= -1) & (scorer(x) <= 1)).all()


def test_image_reward_matches_blip_itm_path(blip_parts):
    net, tok = blip_parts
    scorer = _image_reward(net, tok)
    x = torch.rand(2, 3, 32, 32)
    ids = tok(["a red cube"], padding="max_length", truncation=True, max_length=35, return_tensors="pt")
    with torch.no_grad():
        out = net(input_ids=ids["input_ids"].repeat(2, 1), attention_mask=ids["attention_mask"].repeat(2, 1),
                  pixel_values=scorer.preprocess(x), use_itm_head=True)  # transformers' ITM forward
        itm = out.itm_score if hasattr(out, "itm_score") else out[0]
        ref = (itm[:, 1] - IMAGE_REWARD_MEAN) / IMAGE_REWARD_STD
        torch.testing.assert_close(scorer.score(x), ref, rtol=1e-4, atol=1e-4)
    assert scorer(x).shape == (2,)


@pytest.mark.parametrize("kind", ["pickscore", "hps", "image-reward"])
def test_gradient_reaches_the_pixels_and_sums_with_clip(kind, tiny_clip, blip_parts):
    if kind == "image-reward":
        scorer = _image_reward(*blip_parts)
    elif kind == "pickscore":
        scorer = PreferenceScorer(tiny_clip, "a red cube", float(tiny_clip.model.logit_scale.exp()))
    else:
        w = OpenClipStyle(tiny_clip_model(1), tiny_clip_tokenizer())
        scorer = PreferenceScorer(ClipEmbedder(w, w.tokenize), "a red cube")
    x = torch.rand(2, 1, 28, 28, requires_grad=True)  # grayscale zoo-sized images are repeated to RGB
    total = WeightedSum([(ClipTextScorer(tiny_clip, "a red cube"), 1.0), (scorer, 0.5)])
    loss = total(x)
    assert loss.shape == (2,) and torch.isfinite(loss).all()
    torch.testing.assert_close(loss, ClipTextScorer(tiny_clip, "a red cube")(x) + 0.5 * scorer(x))
    loss.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_bad_inputs_are_clear(tiny_clip, blip_parts):
    with pytest.raises(ValueError, match="non-empty prompt"):
        PreferenceScorer(tiny_clip, "", 1.0)
    with pytest.raises(ValueError, match="scale"):
        PreferenceScorer(tiny_clip, "a", 0.0)
    with pytest.raises(ValueError, match="4 dimensions"):
        _image_reward(*blip_parts)(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="unknown scorer 'pick-score'"):
        build_scorer("pick-score", {"prompt": "a"})


def test_registry_loads_rewards_from_local_folders(tmp_path):
    assert {"pickscore", "hps", "image-reward"} <= set(SCORERS)
    clip_dir = save_tiny_clip(tmp_path / "pick")
    pick = build_scorer("pickscore", {"prompt": "a red cube", "crops": 0}, model=str(clip_dir))
    assert isinstance(pick, PreferenceScorer) and pick.scale == pytest.approx(float(tiny_clip_model(0).logit_scale.exp()))
    ir = build_scorer("image-reward", {"prompt": "a red cube"}, model=str(save_tiny_image_reward(tmp_path / "ir")))
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    ir(x).sum().backward()
    assert x.grad.abs().sum() > 0


def test_missing_weights_name_what_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.delenv("DOODL_HPS_CHECKPOINT", raising=False)
    monkeypatch.delenv("DOODL_IMAGE_REWARD", raising=False)
    with pytest.raises(FileNotFoundError, match=r"checkpoint=PATH and \$DOODL_HPS_CHECKPOINT"):
        build_scorer("hps", {"prompt": "a"})
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        build_scorer("hps", {"prompt": "a"}, checkpoint=str(tmp_path / "nope.pt"))
    with pytest.raises(FileNotFoundError, match="blip/config.json"):
        build_scorer("image-reward", {"prompt": "a"}, model=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="missing-pick"):
        build_scorer("pickscore", {"prompt": "a"}, model=str(tmp_path / "missing-pick"))


def test_clip_h_id_is_accepted_by_the_loader():
    from doodl.scorers.loading import CLIP_ALIASES, load_clip

    assert CLIP_ALIASES["vit-h-14"] == "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
    with pytest.raises(FileNotFoundError, match="laion/CLIP-ViT-H-14-laion2B-s32B-b79K"):  # offline: not cached
        load_clip("laion/CLIP-ViT-H-14-laion2B-s32B-b79K")


@pytest.mark.weights
def test_real_pickscore_prefers_the_matching_prompt():
    from doodl.scorers.rewards import load_pickscore

    emb, scale = load_pickscore()
    assert 50 < scale < 150 and emb.image_size == 224


@pytest.mark.weights
def test_real_hps_and_image_reward_load():
    import os

    from doodl.scorers.rewards import load_hps, load_image_reward

    assert load_hps(os.environ.get("DOODL_HPS_CHECKPOINT")).image_size == 224
    assert load_image_reward(os.environ.get("DOODL_IMAGE_REWARD"))["image_size"] == 224


@pytest.mark.parametrize("guide", ["pickscore:0.1,crops=0,model={pick}", "image-reward:1,model={ir}"])
def test_doodl_through_a_reward_moves_x_T(guide, tmp_path):
    """End to end: the reward's gradient reaches the initial latent x_T of a zoo DOODL run and changes it."""
    from doodl.runs import RunSpec, execute

    folders = {"pick": save_tiny_clip(tmp_path / "pick"), "ir": save_tiny_image_reward(tmp_path / "ir")}
    latents = []
    spec = RunSpec(model="fashion", prompt="a red cube", guides=(guide.format(**folders),), steps=2, opt_steps=1,
                   device="cpu", doodl_options={"select": "last"})
    execute(spec, tmp_path / "out", progress=False, heldout=False, on_step=lambda i: latents.append(i["images"]))
    assert len(latents) == 2 and not torch.equal(latents[0], latents[1])
