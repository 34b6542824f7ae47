"""Typed conditioning: what a denoiser is conditioned on, validated by the backend that binds it (STYLE.md 15)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from torch import Tensor


@dataclass(frozen=True)
class Conditioning:
    """Everything a backend may bind into eps = model(x, t); a field left None was not asked for."""

    prompt: str | list[str] | None = None
    negative_prompt: str | list[str] | None = None
    guidance_scale: float | None = None  # classifier-free guidance scale (Ho & Salimans 2022); None: the backend's default
    class_label: int | Tensor | None = None  # class-conditional pixel models (the zoo)
    prompt_embeds: Tensor | None = None  # precomputed text embeddings (users cache T5-XXL's)
    negative_prompt_embeds: Tensor | None = None
    pooled_prompt_embeds: Tensor | None = None  # SDXL / SD3 / Flux pooled CLIP embeddings
    negative_pooled_prompt_embeds: Tensor | None = None
    guidance: float | None = None  # Flux-dev's distilled guidance embedding (not CFG)

    @classmethod
    def from_kwargs(cls, **options: Any) -> "Conditioning":
        """Build from keyword options; an unknown name is a ValueError listing the known ones."""
        names = cls.names()
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise ValueError(f"unknown conditioning option(s) {unknown}; known: {list(names)}")
        return cls(**options)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The field names, in declaration order."""
        return tuple(f.name for f in fields(cls))

    def given(self) -> set[str]:
        """Names of the fields that were set (not None)."""
        return {n for n in self.names() if getattr(self, n) is not None}

    def check(self, accepts: frozenset[str] | set[str], model: str) -> None:
        """Raise a ValueError naming every set field that `model` cannot use (never silently dropped)."""
        extra = sorted(self.given() - set(accepts))
        if extra:
            raise ValueError(f"{model} does not take {', '.join(extra)}; it takes {sorted(accepts) or 'no conditioning'}")
