"""Tiny random reward networks built offline: a BLIP for ImageReward, an OpenCLIP-style wrapper for HPS."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

WORDS = ["a", "red", "cube", "blue", "ball", "cat", "dog", "photo", "of", "the", "shirt", "shoe"]


def tiny_bert_tokenizer(folder: str | os.PathLike):
    """A BertTokenizer over a 17-entry vocabulary (5 specials + WORDS), written to folder/vocab.txt."""
    from transformers import BertTokenizer

    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS) + "\n")
    return BertTokenizer(str(path / "vocab.txt"))


def tiny_blip(seed: int = 0):
    """A random BlipForImageTextRetrieval: vision 32 px, patch 8, width 32; text width 32, 2 layers; eval, frozen."""
    from transformers import BlipConfig, BlipForImageTextRetrieval

    text = dict(vocab_size=len(WORDS) + 5, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, encoder_hidden_size=32, max_position_embeddings=64, pad_token_id=0)
    vision = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BlipForImageTextRetrieval(BlipConfig(text_config=text, vision_config=vision, projection_dim=16))
    return model.eval().requires_grad_(False)


def save_tiny_image_reward(folder: str | os.PathLike, seed: int = 0) -> Path:
    """folder/blip (tiny_blip + tokenizer, save_pretrained) and folder/head.safetensors: what load_image_reward reads."""
    from safetensors.torch import save_file

    from ..scorers.rewards import reward_head

    root = Path(folder)
    tiny_blip(seed).save_pretrained(root / "blip")
    tiny_bert_tokenizer(root / "blip").save_pretrained(root / "blip")
    torch.manual_seed(seed)
    head = reward_head(32)
    save_file({f"layers.{k}": v.contiguous() for k, v in head.state_dict().items()}, str(root / "head.safetensors"))
    return root


class OpenClipStyle(nn.Module):
    """An OpenCLIP-style model (encode_image / encode_text, visual.image_size) over a transformers CLIPModel."""

    def __init__(self, clip: nn.Module, tokenizer):
        super().__init__()
        self.clip, self._tok = clip, tokenizer
        self.visual = nn.Module()
        self.visual.image_size = clip.config.vision_config.image_size

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """Image embeddings of normalised pixel values."""
        out = self.clip.get_image_features(pixel_values=x)
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """Text embeddings of token ids."""
        out = self.clip.get_text_features(input_ids=ids)
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    def tokenize(self, prompts: list[str]) -> torch.Tensor:
        """OpenCLIP's tokenizer contract: list[str] -> (P, 77) LongTensor."""
        return self._tok(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt")["input_ids"]
