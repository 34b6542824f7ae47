"""Loading what a run needs (backend, scorer networks) once, so a batch of runs reuses models across jobs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from ..backends.base import Backend
from .defaults import ZOO_CLASSIFIERS
from .spec import RunSpec

if TYPE_CHECKING:
    from ..specs import GuideSpec
    from ..scorers.base import Scorer

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; anything else as given (a missing CUDA is a clear error)."""
    from ..devices import as_device

    return as_device(device, "--device", allow_auto=True)


def resolve_dtype(name: str) -> torch.dtype:
    """A torch dtype from RunSpec.dtype."""
    from ..backends.sd import as_dtype

    dtype = as_dtype(name, "--dtype")
    assert dtype is not None
    return dtype


def is_short_name(model: str) -> bool:
    """Whether `model` is a registered backend short name (the zoo's 'fashion', ...), not SD weights."""
    from ..backends.loading import known_backends

    return model.strip() in known_backends()


def guide_label(g: "GuideSpec") -> str:
    """How errors name a guide: 'classifier (mypkg:build)', 'clip-text (vit-g-14)', 'brightness'."""
    what = g.options.get("classifier") or g.options.get("clip-model")
    return f"{g.name} ({what})" if what else g.name


@dataclass
class ModelCache:
    """Loaded backends keyed by (model, dtype, device, size, memory options), and scorer networks by device/dtype.

    Pass one cache to several execute() calls (the batch runner does) to load each model once.
    """

    backends: dict[tuple, Backend] = field(default_factory=dict)
    scorer_models: dict[tuple[str, str], Any] = field(default_factory=dict)  # the scorer registry's CLIP holders
    classifiers: dict[tuple[str, str, str], torch.nn.Module] = field(default_factory=dict)

    def backend(self, spec: RunSpec, device: torch.device, dtype: torch.dtype) -> Backend:
        """The diffusion backend of spec.model, loaded on first use (hub id, folder or short name)."""
        from ..backends.loading import load_backend

        key = (spec.model, str(dtype), str(device), spec.height, spec.width, spec.low_memory)
        if key not in self.backends:
            options: dict[str, Any] = {"dtype": dtype, "device": device}
            if is_short_name(spec.model):
                if spec.height is not None or spec.width is not None or spec.low_memory:
                    raise ValueError(f"--height, --width and --low-memory apply to Stable Diffusion models, not {spec.model!r}")
            else:
                options.update({k: v for k, v in (("height", spec.height), ("width", spec.width)) if v is not None})
                if spec.low_memory:
                    options.update(vae_slicing=True, gradient_checkpointing=True)
            log.info("loading model %s (%s, %s)", spec.model, dtype, device)
            self.backends[key] = load_backend(spec.model, **options)
        return self.backends[key]

    def zoo_classifier(self, name: str, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
        """A zoo classifier ('fashion-guide', 'fashion-eval'), loaded on first use."""
        from ..zoo.registry import load_classifier

        key = (name, str(device), str(dtype))
        if key not in self.classifiers:
            self.classifiers[key] = load_classifier(name, device, dtype)
        return self.classifiers[key]

    def loss(self, guides: tuple["GuideSpec", ...], context: Any) -> "Scorer":
        """sum_i w_i c_i for the guides (DOODL's cost c), with networks shared through this cache."""
        from ..scorers.base import WeightedSum
        from ..scorers.registry import _Models, build_scorer

        key = (str(context.device), str(context.dtype))
        if key not in self.scorer_models:
            self.scorer_models[key] = _Models(context)
        models = self.scorer_models[key]
        terms = []
        for i, g in enumerate(guides):
            if g.name.lower() == "classifier" and str(g.options.get("classifier", "")) in ZOO_CLASSIFIERS:
                scorer = self._zoo_classifier_scorer(g, context, i)
            else:
                scorer = build_scorer(g.name, context, _models=models, _index=i, **dict(g.options))
            terms.append((scorer, g.weight))
        return WeightedSum(terms, names=[guide_label(g) for g in guides])

    def _zoo_classifier_scorer(self, g: "GuideSpec", context: Any, index: int) -> "Scorer":
        """ClassifierScorer over a zoo classifier on the backend's 28x28 images (no crops unless crops=N)."""
        from ..scorers.classifier import ClassifierScorer
        from ..scorers.crops import MultiCrop
        from ..scorers.options import GuideOptions

        o = GuideOptions("classifier", g.options, ("classifier", "class", "loss", "crops", "cut-power"))
        name = str(o.text("classifier"))
        target = o.integer("class", None, low=0)
        if target is None:
            raise ValueError("--guide classifier needs class=N (the target class index)")
        net = self.zoo_classifier(name, context.device, context.dtype)
        n = o.integer("crops", 0, low=0)
        crops = MultiCrop(n, o.number("cut-power", 1.0, low=0, open_low=True), context.image_size or 28,
                          seed=context.seed + index) if n else None
        return ClassifierScorer(net, target, loss=o.choice("loss", "ce", ("ce", "bce")), num_classes=10, crops=crops)
