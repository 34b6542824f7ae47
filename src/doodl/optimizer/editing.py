"""Real-image editing (DOODL §5.3): encode, invert exactly with EDICT, then optimise from the inverted pair."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..backends.base import Backend
from ..conditioning import Conditioning
from ..samplers.chain import edict_invert
from ..schedules.steps import Step
from .config import coupling_dtype_for


@dataclass
class InvertedImage:
    """An EDICT latent pair that regenerates the image when sampled over `steps`."""

    x: Tensor  # (B, *latent_shape)
    y: Tensor
    steps: list[Step]  # the last invert_to steps of the T-step chain, their index kept (leapfrog parity)

    @property
    def timesteps(self) -> list[int | float]:
        """The t of each step, noisiest first (for records)."""
        return [s.t for s in self.steps]


def tail_steps(steps: list[Step], invert_to: int | None) -> list[Step]:
    """The last invert_to steps of a chain (all when None): the part that goes from depth invert_to to clean."""
    k = len(steps) if invert_to is None else invert_to
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= len(steps):
        raise ValueError(f"invert_to must be an int in [1, {len(steps)}] (steps to undo), got {invert_to!r}")
    return steps[len(steps) - k :]


def invert_image(
    backend: Backend,
    images: Tensor,
    *,
    num_inference_steps: int = 50,
    invert_to: int | None = None,
    mix: float | None = None,
    leapfrog: bool = True,
    dtype: torch.dtype | str | None = None,
    **conditioning,
) -> InvertedImage:
    """Invert images in [0, 1] to an EDICT pair; invert_to = how many of the T steps to undo (default all T).

    Pass the result to doodl.optimize(init=(inv.x, inv.y), steps=inv.steps, ...). The paper inverts
    unconditionally (empty prompt); conditioning (Conditioning fields) is passed to backend.denoiser. The
    steps are a slice of backend.steps(num_inference_steps), so each keeps its index in the full chain and
    EDICT's leapfrog swaps at the same steps on the way down as on the way up. dtype is the coupling dtype
    (None: float64 where the device has it, as doodl.optimize's default, so the pair regenerates exactly).
    mix None: the backend family's default (doodl.optimizer.defaults), the one optimize() uses when not given.
    """
    from .defaults import defaults_for

    mix = defaults_for(backend).mix if mix is None else mix
    backend.check_images(images, "images")
    dtype = coupling_dtype_for(backend.device, dtype)
    full = backend.steps(num_inference_steps)
    sub = tail_steps(full, invert_to)
    model = backend.denoiser(Conditioning.from_kwargs(**conditioning))
    with torch.no_grad():
        z0 = backend.encode(images).to(dtype)
    x, y = edict_invert(model, z0, z0.clone(), sub, mix, leapfrog=leapfrog, model_dtype=backend.dtype)
    return InvertedImage(x, y, sub)
