"""Argument checks of doodl.optimize that need the backend: the starting latent pair (`init`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..backends.base import Backend


def check_init(backend: Backend, init: Any, n_seeds: int) -> tuple[Tensor, Tensor]:
    """The pair (x_T, y_T), each (n_seeds, *backend.latent_shape) and finite, else a ValueError naming the shape."""
    want = (n_seeds, *backend.latent_shape)
    expected = f"a pair (x_T, y_T) of tensors of shape {want} (one latent per seed, the backend's latent shape)"
    if not isinstance(init, (tuple, list)) or len(init) != 2 or not all(isinstance(t, Tensor) for t in init):
        raise ValueError(f"init must be {expected}, got {type(init).__name__}")
    for name, t in zip(("x_T", "y_T"), init):
        if tuple(t.shape) != want:
            raise ValueError(f"init {name} must have shape {want} (one latent per seed, the backend's latent shape), "
                             f"got {tuple(t.shape)}")
        if not t.is_floating_point() or not bool(torch.isfinite(t).all()):
            raise ValueError(f"init {name} must be a finite floating tensor")
    return init[0], init[1]
