"""Registry entries for the rewards: `--guide pickscore|hps|image-reward[:WEIGHT][,prompt=...,model=...]`."""

from __future__ import annotations

from typing import Any, Callable

from ..options import GuideOptions
from ..registry import CROP_OPTIONS, ScorerContext, ScorerEntry, ScorerModels, _crops
from .image_reward import ImageRewardScorer
from .loaders import PICKSCORE_MODEL, PICKSCORE_PROCESSOR, load_hps, load_image_reward, load_pickscore
from .preference import PreferenceScorer


def _cached(models: ScorerModels, key: tuple, load: Callable[[], Any]) -> Any:
    """A network shared by every guide of one ScorerModels (loaded on first use)."""
    store = models.networks
    if key not in store:
        store[key] = load()
    return store[key]


def _prompt(o: GuideOptions, ctx: ScorerContext) -> str:
    prompt = o.text("prompt", ctx.prompt)
    if not prompt:
        raise ValueError(f"--guide {o.scorer} needs a prompt: prompt=TEXT or the run's prompt")
    return prompt


def _build_pickscore(o: GuideOptions, ctx: ScorerContext, models: ScorerModels, index: int) -> PreferenceScorer:
    prompt = _prompt(o, ctx)
    model, processor = o.text("model", PICKSCORE_MODEL), o.text("processor", PICKSCORE_PROCESSOR)
    emb, scale = _cached(models, ("pickscore", model, processor),
                         lambda: load_pickscore(str(model), str(processor), ctx.device, ctx.dtype))
    return PreferenceScorer(emb, prompt, scale, crops=_crops(o, ctx, emb.image_size, index), name="pickscore")


def _build_hps(o: GuideOptions, ctx: ScorerContext, models: ScorerModels, index: int) -> PreferenceScorer:
    prompt = _prompt(o, ctx)
    ckpt = o.text("checkpoint")
    emb = _cached(models, ("hps", ckpt), lambda: load_hps(ckpt, ctx.device, ctx.dtype))
    return PreferenceScorer(emb, prompt, 1.0, crops=_crops(o, ctx, emb.image_size, index), name="hps")


def _build_image_reward(o: GuideOptions, ctx: ScorerContext, models: ScorerModels, index: int) -> ImageRewardScorer:
    prompt = _prompt(o, ctx)
    folder = o.text("model")
    nets = _cached(models, ("image-reward", folder), lambda: load_image_reward(folder, ctx.device, ctx.dtype))
    return ImageRewardScorer(nets["vision"], nets["text_encoder"], nets["head"], nets["tokenizer"], prompt,
                             image_size=nets["image_size"])


REWARD_ENTRIES = (
    ScorerEntry("pickscore", _build_pickscore, ("prompt", "model", "processor") + CROP_OPTIONS,
                "-PickScore: logit scale x cosine of a fine-tuned CLIP-H (Kirstain et al. 2023)"),
    ScorerEntry("hps", _build_hps, ("prompt", "checkpoint") + CROP_OPTIONS,
                "-HPSv2.1: cosine of OpenCLIP ViT-H-14 with the HPS checkpoint (Wu et al. 2023)"),
    ScorerEntry("image-reward", _build_image_reward, ("prompt", "model"),
                "-ImageReward: BLIP text-image encoder + MLP head, standardised (Xu et al. 2023)"),
)
