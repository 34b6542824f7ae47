"""PickScore (Kirstain et al. 2023) and HPSv2.1 (Wu et al. 2023): a scale times the cosine of CLIP embeddings.

PickScore is a CLIP-H fine-tuned on Pick-a-Pic; its score is logit_scale * cos(image, text) (the model's own
exp(logit_scale), about 100). HPSv2.1 is an OpenCLIP ViT-H-14 fine-tuned on HPD v2; its score is the plain
cosine (scale 1), as its reference `score` function computes. Both reuse ClipEmbedder, so the resize and
normalisation run in torch and the gradient reaches the pixels.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import as_rgb, loss_dtype
from ..clip import ClipEmbedder
from ..crops import MultiCrop

HPS_ARCH = "ViT-H-14"  # HPSv2.1's OpenCLIP architecture


class PreferenceScorer:
    """loss = -scale * cos(E_img(x), E_txt(prompt)), averaged over prompts (and over crops when given).

    Args:
        embedder: a ClipEmbedder over the reward's CLIP (transformers for PickScore, OpenCLIP for HPS).
        prompts: the prompt(s) the images are rated against.
        scale: PickScore: the model's exp(logit_scale); HPS: 1.
        crops: MultiCrop augmentation, or None to rate whole images (how the rewards are reported).
        name: shown in repr and in held-out reports.
    """

    def __init__(self, embedder: ClipEmbedder, prompts: str | Sequence[str], scale: float = 1.0,
                 crops: MultiCrop | None = None, name: str = "preference"):
        if not callable(getattr(embedder, "embed_images", None)) or not callable(getattr(embedder, "embed_text", None)):
            raise ValueError(f"embedder must be a ClipEmbedder (embed_images / embed_text), got {type(embedder).__name__}")
        self.prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not self.prompts or not all(isinstance(p, str) and p.strip() for p in self.prompts):
            raise ValueError(f"{name} needs a non-empty prompt, got {prompts!r}")
        scale = float(scale)
        if not scale > 0 or scale != scale or scale == float("inf"):
            raise ValueError(f"{name}: scale must be a finite number > 0, got {scale!r}")
        if crops is not None and not isinstance(crops, MultiCrop):
            raise ValueError(f"crops must be a MultiCrop or None, got {type(crops).__name__}")
        self.embedder, self.scale, self.crops, self.name = embedder, scale, crops, name
        with torch.no_grad():
            self.text = F.normalize(embedder.embed_text(self.prompts), dim=-1)  # (P, D), embedded once

    def score(self, images: Tensor) -> Tensor:
        """The reward (B,): scale * cosine, higher is better (PickScore ~ 20, HPSv2.1 ~ 0.3 on real images)."""
        x = as_rgb(images)
        views = self.crops.crops(x) if self.crops is not None else x
        img = F.normalize(self.embedder.embed_images(views), dim=-1)
        cos = (img @ self.text.to(img.device, img.dtype).T).mean(dim=-1)
        per_image = self.crops.reduce(cos, x.shape[0]) if self.crops is not None else cos
        return (self.scale * per_image).to(images.device, loss_dtype(images))

    def __call__(self, images: Tensor) -> Tensor:
        """Loss (B,) = -reward, so minimising raises the reward."""
        return -self.score(images)

    def __repr__(self) -> str:
        return f"PreferenceScorer({self.name}, prompts={self.prompts!r}, scale={self.scale:g}, crops={self.crops!r})"
