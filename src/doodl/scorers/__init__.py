"""Scorers: differentiable costs, images in [0, 1] (B, C, H, W) -> loss (B,), with their networks injected.

CLIP text and image guidance (DOODL §5.1, §5.4), aesthetic rating (§5.3), classifiers (§5.2), weighted sums and
user callables; multi-crop augmentation; loader helpers and a name registry for the CLI's --guide option.
"""

from .aesthetic import AESTHETIC_HEADS, AestheticScorer, aesthetic_head_path, load_aesthetic_head
from .base import Scorer, UserScorer, WeightedSum, as_scorer, check_images, weighted_sum
from .classifier import (
    IMAGENET_CLASSES,
    ClassifierScorer,
    EfficientNetLitePreprocess,
    load_callable,
    load_efficientnet_lite0,
    load_torchscript_classifier,
)
from .clip import CLIP_MEAN, CLIP_STD, ClipEmbedder, spherical_distance
from .clip_scorers import ClipImageScorer, ClipTextScorer, normalize_ensemble
from .crops import MultiCrop
from .loading import CLIP_ALIASES, load_clip
from .registry import SCORERS, ScorerContext, ScorerEntry, ScorerModels, build_scorer, scorer_from_guides
from .simple import Brightness

__all__ = [
    "AESTHETIC_HEADS", "AestheticScorer", "aesthetic_head_path", "load_aesthetic_head",
    "Scorer", "UserScorer", "WeightedSum", "as_scorer", "check_images", "weighted_sum",
    "IMAGENET_CLASSES", "ClassifierScorer", "EfficientNetLitePreprocess", "load_callable", "load_efficientnet_lite0",
    "load_torchscript_classifier",
    "CLIP_MEAN", "CLIP_STD", "ClipEmbedder", "spherical_distance",
    "ClipImageScorer", "ClipTextScorer", "normalize_ensemble",
    "MultiCrop", "CLIP_ALIASES", "load_clip",
    "SCORERS", "ScorerContext", "ScorerEntry", "ScorerModels", "build_scorer", "scorer_from_guides",
    "Brightness",
]
