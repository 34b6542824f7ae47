"""Scorers by name for the CLI's `--guide NAME[:weight][,key=value...]`: option parsing, loading, weighted sums."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch

from .aesthetic import AESTHETIC_HEADS, AestheticScorer, load_aesthetic_head
from .base import Scorer, WeightedSum, square_resize
from .classifier import IMAGENET_CLASSES, ClassifierScorer, load_callable, load_efficientnet_lite0, load_torchscript_classifier
from .clip import ClipEmbedder
from .clip_scorers import ClipImageScorer, ClipTextScorer
from .crops import REDUCTIONS, MultiCrop
from .loading import load_clip
from .options import GuideOptions
from .simple import Brightness

log = logging.getLogger(__name__)

# defaults, with their source
DEFAULT_CLIP_TEXT = "vit-g-14"  # released code: CLIP text guidance defaults to LAION ViT-g/14 (§5.1: a LAION CLIP)
PAPER_IMAGE_ENSEMBLE = (("vit-b-32", 0.5), ("vit-l-14", 0.25), ("vit-g-14", 0.25))  # §5.4
DEFAULT_AESTHETIC_CLIP = "openai-vit-l-14"  # LAION's head was trained on OpenAI ViT-L/14 embeddings (§5.3)


@dataclass(frozen=True)
class ScorerContext:
    """Defaults every guide may use; the CLI fills them from the run's options."""

    prompt: str | None = None  # the generation prompt: clip-text's prompt unless the guide gives one
    device: str = "cpu"
    dtype: torch.dtype = torch.float32
    clip_model: str | None = None  # CLIP for clip-text / clip-image; None: each scorer's paper default
    image_size: int | None = None  # side of the generated images (crop size for user classifiers)
    crops: int = 16  # cuts per image, 0 = none (paper §4: 16)
    cut_power: float = 1.0  # CLIP-guided SD's default (the released DOODL gen() uses 0.3)
    crop_reduce: str = "mean"  # see MultiCrop: mean over crops (paper) or min (released code)
    seed: int = 0  # crop generator seed; guide i uses seed + i


@dataclass
class ScorerModels:
    """Networks loaded for one or more sets of guides, so guides naming the same CLIP share one copy."""

    context: ScorerContext
    clips: dict[str, ClipEmbedder] = field(default_factory=dict)
    classifiers: dict[str, tuple[Callable[[torch.Tensor], Any], Callable[[torch.Tensor], torch.Tensor] | None]] = field(
        default_factory=dict
    )
    networks: dict[tuple, Any] = field(default_factory=dict)  # reward networks (doodl.scorers.rewards), by source

    def clip(self, name: str) -> ClipEmbedder:
        """The CLIP named `name` (alias, hub id, folder or open_clip:...), loaded on first use."""
        if name not in self.clips:
            self.clips[name] = load_clip(name, self.context.device, self.context.dtype)
        return self.clips[name]

    def classifier(self, spec: str) -> tuple[Callable[[torch.Tensor], Any], Callable[[torch.Tensor], torch.Tensor] | None]:
        """(classifier, its preprocessing or None) for 'efficientnet-lite0', a .pt/.pt2 file or 'module:callable'."""
        if spec not in self.classifiers:
            ctx = self.context
            if spec == "efficientnet-lite0":
                self.classifiers[spec] = load_efficientnet_lite0(ctx.device, ctx.dtype)
            else:
                _check_classifier_name(spec)
                is_file = ":" not in spec or spec.endswith((".pt", ".pth", ".pt2"))
                net = load_torchscript_classifier(spec, ctx.device) if is_file else load_callable(spec)
                if not callable(net):
                    raise ValueError(f"--guide classifier: {spec!r} is not callable (expected a classifier module)")
                self.classifiers[spec] = (net.to(ctx.device) if isinstance(net, torch.nn.Module) else net, None)
        return self.classifiers[spec]


def _check_classifier_name(spec: str) -> None:
    """A classifier spec that is no file and no module:callable is a typo of a name: list the names."""
    from pathlib import Path

    module, sep, attr = spec.partition(":")
    if Path(spec).is_file() or spec.lower().endswith((".pt", ".pth", ".pt2")) or (sep and module and attr):
        return
    raise ValueError(f"--guide classifier: {spec!r} is not a known classifier, a classifier file (.pt, .pth, .pt2) "
                     "or module:callable; known names: efficientnet-lite0 (and fashion-guide, fashion-eval on the "
                     "zoo models)")


_Models = ScorerModels  # earlier name, kept for callers that import it


@dataclass(frozen=True)
class ScorerEntry:
    """A registered scorer: how to build it from options, which options it takes, one line of help."""

    name: str
    build: Callable[[GuideOptions, ScorerContext, ScorerModels, int], Scorer]
    options: tuple[str, ...]
    summary: str


CROP_OPTIONS = ("crops", "cut-power", "crop-reduce")


def _crops(o: GuideOptions, ctx: ScorerContext, size: int | None, index: int) -> MultiCrop | None:
    n = o.integer("crops", ctx.crops, low=0)
    if not n:
        return None
    if size is None:
        raise ValueError(f"--guide {o.scorer}: crops need a crop size; give crop-size=N or crops=0")
    return MultiCrop(
        n_crops=n, cut_power=o.number("cut-power", ctx.cut_power, low=0, open_low=True), size=size,
        seed=ctx.seed + index, reduce=o.choice("crop-reduce", ctx.crop_reduce, REDUCTIONS),
    )


def _ensemble(o: GuideOptions, models: ScorerModels, default: Sequence[tuple[str, float]]) -> list[tuple[ClipEmbedder, float]]:
    names = o.items("clip-model")
    if names is None:
        names, weights = [n for n, _ in default], [w for _, w in default]
        weights = o.numbers("weights", weights if len(weights) == len(names) else None)
    else:
        weights = o.numbers("weights", [1.0] * len(names))
    assert weights is not None
    if len(weights) != len(names):
        raise ValueError(f"--guide {o.scorer}: weights has {len(weights)} values for {len(names)} CLIP models")
    if not any(w > 0 for w in weights):
        raise ValueError(f"--guide {o.scorer}: weights must not all be zero")
    return [(models.clip(n), w) for n, w in zip(names, weights)]


def _clip_default(ctx: ScorerContext, fallback: Sequence[tuple[str, float]]) -> Sequence[tuple[str, float]]:
    return ((ctx.clip_model, 1.0),) if ctx.clip_model else fallback


def _build_clip_text(o: GuideOptions, ctx: ScorerContext, models: ScorerModels, index: int) -> Scorer:
    prompt = o.text("prompt", ctx.prompt)
    if not prompt:
        raise ValueError("--guide clip-text needs a prompt: prompt=TEXT or the run's prompt")
    ens = _ensemble(o, models, _clip_default(ctx, ((DEFAULT_CLIP_TEXT, 1.0),)))
    return ClipTextScorer(ens, [prompt], crops=_crops(o, ctx, max(e.image_size for e, _ in ens), index))


def _build_clip_image(o: GuideOptions, ctx: ScorerContext, models: ScorerModels, index: int) -> Scorer:
    from ..io import load_image

    paths = o.items("references")
    if not paths:
        raise ValueError("--guide clip-image needs references=PATH[;PATH...] (one or more reference images)")
    refs = [load_image(p, channels=3, name="clip-image reference") for p in paths]
    ens = _ensemble(o, models, _clip_default(ctx, PAPER_IMAGE_ENSEMBLE))
    return ClipImageScorer(ens, refs, crops=_crops(o, ctx, max(e.image_size for e, _ in ens), index))


def _aesthetic_head_name(model: str, dim: int) -> str:
    if dim == 768:
        return "vit-l-14"
    if dim == 512:
        return "vit-b-16" if ("b-16" in model or "patch16" in model) else "vit-b-32"
    raise ValueError(
        f"--guide aesthetic: no shipped aesthetic head for {dim}-dimensional CLIP embeddings "
        f"(shipped: {', '.join(AESTHETIC_HEADS)}); give head=PATH to an nn.Linear({dim}, 1) state dict"
    )


def _build_aesthetic(o: GuideOptions, ctx: ScorerContext, models: ScorerModels, index: int) -> Scorer:
    word = (o.text("target") or "").lower()
    target = {"max": 10.0, "min": 1.0}[word] if word in ("max", "min") else o.number("target", 10.0)  # §5.3: A = 10 or 1
    name = o.text("clip-model", DEFAULT_AESTHETIC_CLIP)
    assert name is not None
    embedder = models.clip(name)
    head_opt = o.text("head") or _aesthetic_head_name(name, embedder.embed_dim)
    if head_opt in AESTHETIC_HEADS:
        head = load_aesthetic_head(name=head_opt, device=ctx.device, dtype=ctx.dtype)
    else:
        head = load_aesthetic_head(head_opt, device=ctx.device, dtype=ctx.dtype)
    return AestheticScorer(embedder, head, target=target, crops=_crops(o, ctx, embedder.image_size, index))


def _build_classifier(o: GuideOptions, ctx: ScorerContext, models: ScorerModels, index: int) -> Scorer:
    spec = o.text("classifier", "efficientnet-lite0")
    assert spec is not None
    target = o.integer("class", None)
    if target is None:
        raise ValueError("--guide classifier needs class=N (the target class index)")
    num_classes = o.integer("num-classes", None, low=1)
    input_size = o.integer("input-size", None, low=1)
    net, preprocess = models.classifier(spec)
    if spec == "efficientnet-lite0":
        num_classes, crop_size = num_classes or IMAGENET_CLASSES, 224
    else:
        crop_size = input_size or ctx.image_size
        if input_size is not None:
            preprocess = lambda x, n=input_size: square_resize(x, n)  # noqa: E731
    crops = _crops(o, ctx, o.integer("crop-size", crop_size, low=1), index)
    return ClassifierScorer(net, target, preprocess, loss=o.choice("loss", "ce", ("ce", "bce")), num_classes=num_classes, crops=crops)


def _build_brightness(o: GuideOptions, ctx: ScorerContext, models: ScorerModels, index: int) -> Scorer:
    return Brightness(maximize=o.choice("target", "max", ("max", "min")) == "max")


SCORERS: dict[str, ScorerEntry] = {
    "clip-text": ScorerEntry("clip-text", _build_clip_text, ("prompt", "clip-model", "weights") + CROP_OPTIONS,
                             "CLIP image-text spherical distance (§5.1)"),
    "clip-image": ScorerEntry("clip-image", _build_clip_image, ("references", "clip-model", "weights") + CROP_OPTIONS,
                              "CLIP distance to reference images, ensemble of CLIPs (§5.4)"),
    "aesthetic": ScorerEntry("aesthetic", _build_aesthetic, ("target", "clip-model", "head") + CROP_OPTIONS,
                             "|LAION aesthetic rating - target| (§5.3)"),
    "classifier": ScorerEntry("classifier", _build_classifier,
                              ("classifier", "class", "loss", "num-classes", "input-size", "crop-size") + CROP_OPTIONS,
                              "cross-entropy / BCE toward a class of any classifier (§5.2)"),
    "brightness": ScorerEntry("brightness", _build_brightness, ("target",), "mean brightness, max or min (demo)"),
}

from .rewards.entries import REWARD_ENTRIES  # noqa: E402 -- pickscore, hps, image-reward (they use the helpers above)

SCORERS.update({e.name: e for e in REWARD_ENTRIES})


def build_scorer(
    name: str,
    context: ScorerContext | Mapping[str, Any] | None = None,
    *,
    models: ScorerModels | None = None,
    index: int = 0,
    _models: ScorerModels | None = None,
    _index: int | None = None,
    **options: Any,
) -> Scorer:
    """A registered scorer from option strings (or values), loading its networks with the loader helpers.

    models shares loaded networks between calls; index offsets the crop seed (guide i uses context.seed + i).
    _models / _index are the earlier spellings of models / index.
    """
    key = str(name).strip().lower()
    if key not in SCORERS:
        raise ValueError(f"unknown scorer {name!r}; valid scorers: {', '.join(sorted(SCORERS))}")
    ctx = as_context(context)
    entry = SCORERS[key]
    opts = GuideOptions(key, options, entry.options)
    return entry.build(opts, ctx, models or _models or ScorerModels(ctx), index if _index is None else _index)


def as_context(context: ScorerContext | Mapping[str, Any] | None) -> ScorerContext:
    """A ScorerContext from None, itself, or a dict of its fields (unknown keys are an error)."""
    if context is None:
        return ScorerContext()
    if isinstance(context, ScorerContext):
        return context
    if not isinstance(context, Mapping):
        raise ValueError(f"context must be a ScorerContext or a dict, got {type(context).__name__}")
    known = set(ScorerContext.__dataclass_fields__)
    unknown = sorted(set(context) - known)
    if unknown:
        raise ValueError(f"unknown scorer context key {unknown[0]!r}; known: {', '.join(sorted(known))}")
    return ScorerContext(**context)


def scorer_from_guides(specs: Sequence[Any], context: ScorerContext | Mapping[str, Any] | None = None) -> Scorer:
    """sum_i weight_i * scorer_i for parsed `--guide` specs (objects with name, weight, options: GuideSpec)."""
    specs = list(specs)
    if not specs:
        raise ValueError("at least one --guide is needed")
    ctx = as_context(context)
    models = ScorerModels(ctx)
    terms = []
    for i, spec in enumerate(specs):
        scorer = build_scorer(spec.name, ctx, models=models, index=i, **dict(spec.options))
        terms.append((scorer, spec.weight))
    log.info("guides: %s", ", ".join(f"{s.name}:{s.weight:g}" for s in specs))
    return WeightedSum(terms)
