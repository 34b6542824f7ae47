"""A CLIP adapter over transformers and OpenCLIP models, and the spherical distance of DOODL eq. 10."""

from __future__ import annotations

import logging
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import as_rgb, square_resize

log = logging.getLogger(__name__)

# OpenAI CLIP's image normalisation (also used by the LAION-trained CLIPs)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def spherical_distance(a: Tensor, b: Tensor) -> Tensor:
    """2 arcsin(||a - b|| / 2)^2 on L2-normalised embeddings (..., D) -> (...) (DOODL eq. 10, without lambda).

    The paper's printed eq. 10 reads 2 lambda sqrt(arcsin(||x - y|| / 2)); the loss it cites "from the
    literature" (CLIP-guided diffusion's spherical_dist_loss, also what the released DOODL code runs) squares
    the arcsin instead. We follow the squared form: it is half the squared geodesic angle between the two unit
    vectors, smooth at a = b, where the square-root form has an infinite gradient. The scale lambda is the
    guide's weight. a and b broadcast against each other.
    """
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"embeddings must have the same last dimension, got {tuple(a.shape)} and {tuple(b.shape)}")
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    # chord length / 2 is at most 1 for unit vectors; clamp rounding so arcsin stays finite
    half_chord = (a - b).norm(dim=-1).div(2).clamp(max=1.0)
    return half_chord.arcsin().pow(2).mul(2)


def _features(out: Any) -> Tensor:
    """Projected embeddings from get_*_features: a tensor (transformers 4) or an output's pooler_output (5)."""
    if isinstance(out, Tensor):
        return out
    pooled = getattr(out, "pooler_output", None)
    if isinstance(pooled, Tensor):
        return pooled
    raise ValueError(f"CLIP model returned {type(out).__name__}, expected a tensor of embeddings")


class ClipEmbedder:
    """Embed images in [0, 1] and prompts with a built CLIP model: transformers' CLIPModel or an OpenCLIP model.

    transformers models are recognised by get_image_features / get_text_features and take a transformers
    tokenizer; OpenCLIP models (duck-typed, open_clip itself is not needed) by encode_image / encode_text and take
    a tokenizer callable list[str] -> LongTensor (open_clip.get_tokenizer(arch)). Images are center-cropped to a
    square, resized to the model's input size with bilinear interpolation and normalised with `mean` / `std`
    inside embed_images, so gradients flow from the embedding back to the pixels.

    Args:
        model: the CLIP model, built and on its device (loading by name is doodl.scorers.load_clip).
        tokenizer: needed for embed_text only.
        image_size: input side; read from the model's config (transformers) or model.visual.image_size (OpenCLIP).
        mean, std: per-channel normalisation (CLIP's by default).
        name: shown in logs and error messages.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any | None = None,
        image_size: int | None = None,
        mean: Sequence[float] = CLIP_MEAN,
        std: Sequence[float] = CLIP_STD,
        name: str | None = None,
    ):
        if callable(getattr(model, "get_image_features", None)) and callable(getattr(model, "get_text_features", None)):
            self.kind = "transformers"
        elif callable(getattr(model, "encode_image", None)) and callable(getattr(model, "encode_text", None)):
            self.kind = "open_clip"
        else:
            raise ValueError(
                f"model must be a transformers CLIPModel (get_image_features/get_text_features) or an OpenCLIP model "
                f"(encode_image/encode_text), got {type(model).__name__}"
            )
        self.model, self.tokenizer = model, tokenizer
        self.name = name or type(model).__name__
        self.image_size = int(image_size) if image_size is not None else self._model_image_size()
        if self.image_size < 1:
            raise ValueError(f"image_size must be >= 1, got {self.image_size}")
        if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
            raise ValueError(f"mean and std must have 3 values each (std > 0), got {mean!r} and {std!r}")
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        self._embed_dim: int | None = None

    def _model_image_size(self) -> int:
        """The model's input side, from its config (transformers) or model.visual.image_size (OpenCLIP)."""
        cfg = getattr(self.model, "config", None)
        size = getattr(getattr(cfg, "vision_config", None), "image_size", None)
        if size is None:
            size = getattr(getattr(self.model, "visual", None), "image_size", None)
        if size is None:
            raise ValueError(f"cannot tell the input size of {self.name}; pass image_size")
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    @property
    def device(self) -> torch.device:
        """Device of the model's first parameter (CPU for a parameterless model)."""
        p = next(iter(self.model.parameters()), None) if hasattr(self.model, "parameters") else None
        return p.device if p is not None else torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the model's first floating parameter (float32 when there is none)."""
        params = self.model.parameters() if hasattr(self.model, "parameters") else ()
        return next((p.dtype for p in params if p.is_floating_point()), torch.float32)

    @property
    def embed_dim(self) -> int:
        """Size D of the joint embedding (projection_dim), read from the model or found by embedding a blank image."""
        if self._embed_dim is None:
            cfg = getattr(self.model, "config", None)
            dim = getattr(cfg, "projection_dim", None) or getattr(getattr(self.model, "visual", None), "output_dim", None)
            if dim is None:
                with torch.no_grad():
                    dim = self.embed_images(torch.zeros(1, 3, self.image_size, self.image_size)).shape[-1]
            self._embed_dim = int(dim)
        return self._embed_dim

    def preprocess(self, images: Tensor) -> Tensor:
        """Images in [0, 1], (B, 1 or 3, H, W) -> CLIP input (B, 3, S, S): center square, resize, normalise."""
        x = square_resize(as_rgb(images).to(self.device, self.dtype), self.image_size)
        mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x - mean) / std

    def _out_dtype(self) -> torch.dtype:
        return torch.promote_types(self.dtype, torch.float32)

    def embed_images(self, images: Tensor) -> Tensor:
        """Images in [0, 1], (B, C, H, W) -> image embeddings (B, D), not normalised; one network call."""
        x = self.preprocess(images)
        out = self.model.get_image_features(pixel_values=x) if self.kind == "transformers" else self.model.encode_image(x)
        return _features(out).to(self._out_dtype())

    def embed_text(self, prompts: Sequence[str]) -> Tensor:
        """Prompts (P strings) -> text embeddings (P, D), not normalised."""
        if isinstance(prompts, str):
            prompts = [prompts]
        prompts = list(prompts)
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise ValueError(f"prompts must be a non-empty list of strings, got {prompts!r}")
        if self.tokenizer is None:
            raise ValueError(f"{self.name} has no tokenizer; pass one to ClipEmbedder to embed text")
        if self.kind == "open_clip":
            tokens = self.tokenizer(prompts)
            out = self.model.encode_text(tokens.to(self.device))
            return _features(out).to(self._out_dtype())
        max_length = getattr(self.tokenizer, "model_max_length", 77)
        positions = getattr(getattr(getattr(self.model, "config", None), "text_config", None), "max_position_embeddings", None)
        if positions is not None:
            max_length = min(max_length, int(positions))
        _warn_truncated(self.tokenizer, prompts, max_length, self.name)
        tok = self.tokenizer(prompts, padding="max_length", max_length=max_length, truncation=True, return_tensors="pt")
        out = self.model.get_text_features(
            input_ids=tok["input_ids"].to(self.device), attention_mask=tok["attention_mask"].to(self.device)
        )
        return _features(out).to(self._out_dtype())

    def __repr__(self) -> str:
        return f"ClipEmbedder({self.name!r}, kind={self.kind}, image_size={self.image_size})"


_TRUNCATION_WARNED: set[tuple[str, str, int]] = set()


def _warn_truncated(tokenizer: Any, prompts: Sequence[str], max_length: int, name: str) -> None:
    """Warn once per prompt and CLIP when the tokenizer will cut the prompt to max_length tokens."""
    for p in prompts:
        key = (name, p, max_length)
        if key in _TRUNCATION_WARNED:
            continue
        n = len(tokenizer(p, truncation=False)["input_ids"])
        if n > max_length:
            _TRUNCATION_WARNED.add(key)
            log.warning("prompt of %d tokens truncated to %d for CLIP %s: %r", n, max_length, name, p[:60] + "...")
