"""The baselines DOODL is compared with: vanilla DDIM sampling and one-step classifier guidance (DOODL §3.2.1)."""

from __future__ import annotations

import time
from typing import Callable, Literal, Sequence

import torch
from torch import Tensor

from ..backends.base import Backend
from ..conditioning import Conditioning
from ..guidance.one_step import one_step_guidance
from ..samplers.ddim import ddim_sample
from .result import SampleResult
from .seeds import as_seed_list, initial_latents

Method = Literal["vanilla", "one_step"]


def sample(
    backend: Backend,
    *,
    seed: int | Sequence[int] = 0,
    num_inference_steps: int = 50,
    method: Method = "vanilla",
    loss: Callable[[Tensor], Tensor] | None = None,
    scale: float = 5.0,
    callback: Callable[[dict], None] | None = None,
    **conditioning,
) -> SampleResult:
    """Sample with DDIM from the same seeded x_T as doodl.optimize; method="one_step" guides with `loss`.

    Args:
        backend: the diffusion model.
        seed: one seed or a list (one image each).
        num_inference_steps: DDIM steps.
        method: "vanilla" (plain sampling) or "one_step" (loss gradient on the one-step x0 estimate).
        loss: the scorer, images in [0, 1] -> (B,); required for "one_step".
        scale: one-step guidance scale (DOODL §5.1: 30 for CLIP; §5.2: 5 for classifiers).
        callback: called after each sampler step with {"i", "t", "x"} (e.g. to advance a progress bar).
        **conditioning: Conditioning fields for backend.denoiser (prompt, class_label, guidance_scale, ...).
    """
    seeds = as_seed_list(seed)
    model = backend.denoiser(Conditioning.from_kwargs(**conditioning))
    steps = backend.steps(num_inference_steps)
    if method == "one_step":
        if loss is None:
            raise ValueError("method 'one_step' needs a loss (a scorer)")
        model = one_step_guidance(model, loss, backend.decode, steps, scale)
    elif method != "vanilla":
        raise ValueError(f"method must be 'vanilla' or 'one_step', got {method!r}")
    start = time.perf_counter()
    xT = initial_latents(backend, seeds, torch.float32)
    with torch.no_grad():
        x0 = ddim_sample(model, xT, steps, model_dtype=backend.dtype, callback=callback)
        images = backend.decode(x0)
    return SampleResult(images, xT, seeds, time.perf_counter() - start, method)
