"""ImageReward (Xu et al. 2023): BLIP's image-grounded text encoder, its [CLS] feature through an MLP head.

The reward of image x for prompt p is (MLP(BERT(p | ViT(x))[CLS]) - mean) / std with ImageReward's published
normalisation constants. The networks are passed in: a vision encoder (pixel_values -> (B, N, D) hidden states),
a text encoder taking encoder_hidden_states (BLIP's cross-attention BERT) and the head; transformers'
BlipForImageTextRetrieval provides the first two (`vision_model`, `text_encoder`). Preprocessing (center square,
bicubic resize to 224, CLIP normalisation, as ImageReward's transform) runs in torch so gradients flow.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..base import as_rgb, loss_dtype
from ..clip import CLIP_MEAN, CLIP_STD

IMAGE_REWARD_MEAN = 0.16717362830052426  # ImageReward's reward normalisation (its ImageReward.py)
IMAGE_REWARD_STD = 1.0333394966054072
IMAGE_REWARD_MAX_TOKENS = 35  # ImageReward tokenises prompts to 35 tokens


def reward_head(dim: int = 768) -> nn.Sequential:
    """ImageReward's MLP: dim -> 1024 -> 128 -> 64 -> 16 -> 1 with dropouts at indices 1, 3, 5 (its mlp.layers)."""
    return nn.Sequential(nn.Linear(dim, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
                         nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1))


def _hidden(out: Any) -> Tensor:
    """last_hidden_state of a transformers output, or the first element of a tuple, or a tensor itself."""
    if isinstance(out, Tensor):
        return out
    h = getattr(out, "last_hidden_state", None)
    if isinstance(h, Tensor):
        return h
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], Tensor):
        return out[0]
    raise ValueError(f"encoder returned {type(out).__name__}, expected hidden states (B, N, D)")


class ImageRewardScorer:
    """loss = -ImageReward(x, prompt) (B,), the reward standardised with ImageReward's mean and std.

    Args:
        vision: module, vision(pixel_values=...) -> (B, N, D) hidden states (BLIP ViT-L).
        text_encoder: module, text_encoder(input_ids=, attention_mask=, encoder_hidden_states=,
            encoder_attention_mask=) -> (B, L, D) (BLIP's BERT with cross-attention).
        head: (B, D) -> (B, 1), reward_head() for ImageReward's checkpoint.
        tokenizer: BLIP's BERT tokenizer (callable like transformers tokenizers).
        prompts: the prompt(s); with several the reward is averaged.
        image_size: input side (ImageReward: 224).
    """

    def __init__(self, vision: nn.Module, text_encoder: nn.Module, head: nn.Module, tokenizer: Any,
                 prompts: str | Sequence[str], image_size: int = 224, mean: Sequence[float] = CLIP_MEAN,
                 std: Sequence[float] = CLIP_STD, reward_mean: float = IMAGE_REWARD_MEAN,
                 reward_std: float = IMAGE_REWARD_STD, max_tokens: int = IMAGE_REWARD_MAX_TOKENS):
        for name, m in (("vision", vision), ("text_encoder", text_encoder), ("head", head), ("tokenizer", tokenizer)):
            if not callable(m):
                raise ValueError(f"image-reward: {name} must be callable, got {type(m).__name__}")
        self.prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not self.prompts or not all(isinstance(p, str) and p.strip() for p in self.prompts):
            raise ValueError(f"image-reward needs a non-empty prompt, got {prompts!r}")
        if int(image_size) < 1 or not reward_std > 0:
            raise ValueError(f"image-reward: image_size must be >= 1 and reward_std > 0, got {image_size}, {reward_std}")
        self.vision, self.text_encoder, self.head, self.tokenizer = vision, text_encoder, head, tokenizer
        self.image_size, self.reward_mean, self.reward_std = int(image_size), float(reward_mean), float(reward_std)
        self.mean, self.std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
        tok = tokenizer(self.prompts, padding="max_length", truncation=True, max_length=max_tokens, return_tensors="pt")
        self.input_ids, self.attention_mask = tok["input_ids"], tok["attention_mask"]

    def _param(self) -> Tensor | None:
        return next((p for p in self.vision.parameters() if p.is_floating_point()), None) if isinstance(self.vision, nn.Module) else None

    def preprocess(self, images: Tensor) -> Tensor:
        """[0, 1] (B, C, H, W) -> (B, 3, S, S): center square, bicubic resize (antialiased), CLIP normalisation."""
        x = as_rgb(images)
        p = self._param()
        if p is not None:
            x = x.to(p.device, p.dtype)
        h, w = x.shape[-2:]
        side = min(h, w)
        x = x[:, :, (h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
        if side != self.image_size:
            x = F.interpolate(x, size=(self.image_size,) * 2, mode="bicubic", align_corners=False, antialias=True)
        mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x - mean) / std

    def score(self, images: Tensor) -> Tensor:
        """The standardised reward (B,), higher is better (ImageReward's scores lie mostly in [-2, 2])."""
        pix = self.preprocess(images)
        emb = _hidden(self.vision(pixel_values=pix))  # (B, N, D)
        b, p = emb.shape[0], len(self.prompts)
        emb_rep = emb.repeat_interleave(p, dim=0)  # image i with each prompt
        ids = self.input_ids.to(emb.device).repeat(b, 1)
        mask = self.attention_mask.to(emb.device).repeat(b, 1)
        atts = torch.ones(emb_rep.shape[:2], dtype=torch.long, device=emb.device)
        out = self.text_encoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=emb_rep,
                                encoder_attention_mask=atts)
        raw = self.head(_hidden(out)[:, 0, :]).reshape(b, p).mean(dim=1)
        return ((raw - self.reward_mean) / self.reward_std).to(images.device, loss_dtype(images))

    def __call__(self, images: Tensor) -> Tensor:
        """Loss (B,) = -reward."""
        return -self.score(images)

    def __repr__(self) -> str:
        return f"ImageRewardScorer(prompts={self.prompts!r}, image_size={self.image_size})"
