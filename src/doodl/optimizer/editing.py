"""Real-image editing (DOODL §5.3): encode, invert exactly with EDICT, then optimise from the inverted pair."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..backends.base import Backend
from ..samplers.edict import edict_invert


@dataclass
class InvertedImage:
    """An EDICT latent pair that regenerates the image when sampled over `timesteps`."""

    x: Tensor  # (B, *latent_shape)
    y: Tensor
    timesteps: list[int]  # the chain from the inverted depth down to 0


def invert_image(
    backend: Backend,
    images: Tensor,
    *,
    num_inference_steps: int = 50,
    invert_to: int | None = None,
    mix: float | None = None,
    leapfrog: bool = True,
    dtype: torch.dtype = torch.float64,
    **conditioning,
) -> InvertedImage:
    """Invert images in [0, 1] to an EDICT pair; invert_to = how many of the T steps to undo (default all T).

    Pass the result to doodl.optimize(init=(inv.x, inv.y), timesteps=inv.timesteps, ...). The paper inverts
    unconditionally (empty prompt); conditioning is passed to backend.denoiser. mix None: the backend family's
    default (doodl.optimizer.defaults), the one optimize() uses when not given.
    """
    from .defaults import defaults_for

    mix = defaults_for(backend).mix if mix is None else mix
    backend.check_images(images, "images")
    ts = backend.timesteps(num_inference_steps)
    k = len(ts) if invert_to is None else invert_to
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= len(ts):
        raise ValueError(f"invert_to must be an int in [1, {len(ts)}] (steps to undo), got {invert_to!r}")
    sub = ts[len(ts) - k :]
    model = backend.denoiser(**conditioning)
    with torch.no_grad():
        z0 = backend.encode(images).to(dtype)
    x, y = edict_invert(model, z0, z0.clone(), sub, backend.alphas_cumprod, mix, leapfrog=leapfrog,
                        final_alpha_cumprod=backend.final_alpha_cumprod, model_dtype=backend.dtype)
    return InvertedImage(x, y, sub)
