"""Seeds to initial latents: one generator per seed, so an image does not depend on what it is batched with."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ..backends.base import Backend


def as_seed_list(seed: int | Sequence[int]) -> list[int]:
    """Normalise `seed` (an int or a non-empty sequence of ints) to a list."""
    seeds = [seed] if isinstance(seed, int) and not isinstance(seed, bool) else list(seed)  # type: ignore[arg-type]
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"seed must be a non-negative int or a non-empty list of them, got {seed!r}")
    return seeds


def initial_latents(backend: Backend, seeds: Sequence[int], dtype: torch.dtype = torch.float32) -> Tensor:
    """x_T ~ N(0, I), one CPU generator per seed (EDM's habit), stacked into a batch."""
    return torch.cat([backend.noise(1, torch.Generator().manual_seed(s), dtype) for s in seeds])


def perturbation_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """Per-seed generators for DOODL's per-update perturbation, independent of the initial draw."""
    return [torch.Generator().manual_seed(s * 7919 + 104729) for s in seeds]


def per_seed_noise(gens: Sequence[torch.Generator], like: Tensor) -> Tensor:
    """One standard normal draw per image from its own generator, shaped like `like`."""
    return torch.cat([torch.randn((1, *like.shape[1:]), generator=g) for g in gens]).to(like)
