"""Seeds to initial latents: one generator per seed, so an image does not depend on what it is batched with."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ..backends.base import Backend


# torch's CPU generator (mt19937) keeps a seed mod 2**32: 2**32 draws exactly what 0 draws, and 2**64 overflows.
# Seeds 0 .. MAX_SEED are the ones that give distinct draws; the perturbation seed s * 7919 + 104729 is a bijection
# mod 2**32 (7919 is odd), so it keeps them apart too.
MAX_SEED = 2**32 - 1


def check_seed_range(seeds: Sequence[int], name: str = "seed") -> None:
    """The one range check for seeds (API and CLI): ValueError naming `name` unless 0 <= s <= MAX_SEED."""
    bad = next((s for s in seeds if not 0 <= s <= MAX_SEED), None)
    if bad is not None:
        raise ValueError(f"{name} must lie in 0..{MAX_SEED} (torch's generator repeats seeds mod 2**32), got {bad}")


def as_seed_list(seed: int | Sequence[int]) -> list[int]:
    """Normalise `seed` (an int or a non-empty sequence of ints in 0..MAX_SEED) to a list."""
    is_int = lambda s: isinstance(s, int) and not isinstance(s, bool)  # noqa: E731
    seeds = [seed] if is_int(seed) else list(seed) if isinstance(seed, (list, tuple, range)) else None
    if not seeds or not all(is_int(s) and s >= 0 for s in seeds):
        if seeds and all(is_int(s) for s in seeds):
            check_seed_range(seeds)
        raise ValueError(f"seed must be a non-negative int or a non-empty list of them, got {seed!r}")
    check_seed_range(seeds)
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
