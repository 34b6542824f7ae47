"""A tiny random CLIP (transformers CLIPModel from a small CLIPConfig) with the offline letter tokenizer."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .tokenizer import tiny_clip_tokenizer


def tiny_clip_config():
    """CLIPConfig: vision 32 px, patch 8, width 32, 2 layers; text vocab 60, width 32, 2 layers; projection 16."""
    from transformers import CLIPConfig

    # token ids follow tiny_clip_tokenizer: 0 <|startoftext|>, 1 <|endoftext|>, 2 the pad "!"; the text pooler
    # reads the first eos position, so eos_token_id must be the tokenizer's
    text = dict(
        vocab_size=60, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=2,
    )
    vision = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)


def tiny_clip_model(seed: int = 0):
    """A random CLIPModel from tiny_clip_config() built under torch.manual_seed(seed), frozen, in eval mode."""
    from transformers import CLIPModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(tiny_clip_config())
    return model.eval().requires_grad_(False)


def tiny_clip_embedder(seed: int = 0):
    """doodl.scorers.ClipEmbedder over tiny_clip_model(seed) and tiny_clip_tokenizer()."""
    from ..scorers.clip import ClipEmbedder

    return ClipEmbedder(tiny_clip_model(seed), tiny_clip_tokenizer(), name=f"tiny-clip-{seed}")


def save_tiny_clip(folder: str | os.PathLike, seed: int = 0) -> Path:
    """Write tiny_clip_model(seed) and its tokenizer with save_pretrained; doodl.scorers.load_clip(folder) loads it."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    tiny_clip_model(seed).save_pretrained(path)
    tiny_clip_tokenizer(save_dir=path).save_pretrained(path)
    return path
