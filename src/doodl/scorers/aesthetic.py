"""Aesthetic guidance (DOODL §5.3): LAION's linear head on the normalised CLIP image embedding, loss |a(x) - A|."""

from __future__ import annotations

import math
import os
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import as_rgb, loss_dtype
from .clip import ClipEmbedder
from .crops import MultiCrop, score_with_crops

# shipped heads (LAION-AI/aesthetic-predictor, MIT): name -> (file, CLIP model it was trained on)
AESTHETIC_HEADS = {
    "vit-l-14": ("sa_0_4_vit_l_14_linear.pth", "OpenAI CLIP ViT-L/14"),
    "vit-b-32": ("sa_0_4_vit_b_32_linear.pth", "OpenAI CLIP ViT-B/32"),
    "vit-b-16": ("sa_0_4_vit_b_16_linear.pth", "OpenAI CLIP ViT-B/16"),
}


def aesthetic_head_path(name: str = "vit-l-14") -> Path:
    """Path of a shipped head inside the installed package (doodl/data/laion_aesthetic)."""
    if name not in AESTHETIC_HEADS:
        raise ValueError(f"unknown aesthetic head {name!r}; shipped: {', '.join(AESTHETIC_HEADS)}")
    return Path(str(resources.files("doodl") / "data" / "laion_aesthetic" / AESTHETIC_HEADS[name][0]))


def load_aesthetic_head(
    path: str | os.PathLike | None = None,
    name: str = "vit-l-14",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> nn.Linear:
    """nn.Linear(D, 1) from a LAION head state dict (the shipped one named `name` when path is None), weights only."""
    p = Path(path) if path is not None else aesthetic_head_path(name)
    if not p.is_file():
        raise FileNotFoundError(f"aesthetic head {str(p)!r} not found")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- any unpickling failure is a bad file
        raise ValueError(f"aesthetic head {str(p)!r} is not a weights-only PyTorch state dict ({e})") from None
    w, b = (state.get("weight"), state.get("bias")) if isinstance(state, dict) else (None, None)
    if not isinstance(w, Tensor) or not isinstance(b, Tensor) or w.ndim != 2 or w.shape[0] != 1 or b.shape != (1,):
        raise ValueError(f"aesthetic head {str(p)!r} must hold 'weight' (1, D) and 'bias' (1,) for nn.Linear(D, 1)")
    head = nn.Linear(w.shape[1], 1)
    head.load_state_dict({"weight": w, "bias": b})
    return head.to(device, dtype).eval().requires_grad_(False)


class AestheticScorer:
    """c_aes(x) = |a(x) - A| with a(x) = head(CLIP(x) / ||CLIP(x)||) (DOODL §5.3; A = 10 maximises, 1 minimises).

    With crops, |a - A| is taken per crop and then reduced (mean by default). The released code clamps a to
    [1, 10] and averages a over crops before the absolute value; we keep the paper's plain |a(x) - A|, which for
    A = 10 and ratings below 10 is the same objective.

    Args:
        embedder: the CLIP model the head was trained on (LAION's L/14 head: OpenAI CLIP ViT-L/14).
        head: nn.Linear(D, 1) with D the embedder's projection size (load_aesthetic_head()).
        target: A, the rating to move towards.
        crops: MultiCrop augmentation, or None to score the whole images.
    """

    def __init__(self, embedder: ClipEmbedder, head: nn.Module, target: float = 10.0, crops: MultiCrop | None = None):
        if not callable(getattr(embedder, "embed_images", None)):
            raise ValueError(f"embedder must be a ClipEmbedder, got {type(embedder).__name__}")
        if not isinstance(head, nn.Module):
            raise ValueError(f"head must be an nn.Module such as nn.Linear(D, 1), got {type(head).__name__}")
        in_features, out_features = getattr(head, "in_features", None), getattr(head, "out_features", 1)
        if out_features != 1:
            raise ValueError(f"aesthetic head must output one rating, got out_features={out_features}")
        if in_features is not None and in_features != embedder.embed_dim:
            raise ValueError(
                f"aesthetic head expects {in_features}-dimensional CLIP embeddings but {embedder.name} gives "
                f"{embedder.embed_dim}; use the head trained on this CLIP model (768: ViT-L/14, 512: ViT-B/32 or B/16)"
            )
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target):
            raise ValueError(f"target must be a finite number (A = 10 to maximise, 1 to minimise), got {target!r}")
        if crops is not None and not isinstance(crops, MultiCrop):
            raise ValueError(f"crops must be a MultiCrop or None, got {type(crops).__name__}")
        self.embedder, self.head, self.target, self.crops = embedder, head, float(target), crops

    def rating(self, images: Tensor) -> Tensor:
        """Predicted aesthetic rating a(x) (B,) of whole images in [0, 1] (no crops)."""
        emb = F.normalize(self.embedder.embed_images(as_rgb(images)), dim=-1)
        p = next(self.head.parameters(), None)
        if p is not None:
            emb = emb.to(p.device, p.dtype)
        return self.head(emb).squeeze(-1).to(loss_dtype(images))

    def __call__(self, images: Tensor) -> Tensor:
        """Per-image loss |a(x) - A| (B,), over crops when set (one CLIP call for all crops)."""
        x = as_rgb(images)
        return score_with_crops(self.crops, x, lambda v: (self.rating(v) - self.target).abs()).to(
            images.device, loss_dtype(images)
        )

    def __repr__(self) -> str:
        return f"AestheticScorer({self.embedder.name!r}, target={self.target:g}, crops={self.crops!r})"
