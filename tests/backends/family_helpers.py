"""Shared helpers of the SDXL / SD3 / Flux backend tests: capture the pipeline's own network call, plain loops."""

from __future__ import annotations

from typing import Any

import torch


def capture_calls(module: torch.nn.Module) -> tuple[list[dict[str, Any]], Any]:
    """Record (args, kwargs, output) of every forward call of `module`; returns (records, hook handle)."""
    calls: list[dict[str, Any]] = []

    def hook(mod, args, kwargs, output):
        calls.append({"args": args, "kwargs": kwargs, "out": output[0] if isinstance(output, tuple) else output.sample})

    return calls, module.register_forward_hook(hook, with_kwargs=True)


def vanilla(backend, model, x: torch.Tensor, n: int) -> torch.Tensor:
    """The plain sampler x = a x + b out(x, t) over backend.steps(n) (DDIM for VP, Euler for flow)."""
    for s in backend.steps(n):
        x = s.a * x + s.b * model(x, s.t)
    return x


def cfg_of(out: torch.Tensor, w: float) -> torch.Tensor:
    """uncond + w (cond - uncond) of a batched [uncond, cond] network output, as the pipelines combine it."""
    u, c = out.chunk(2)
    return u + w * (c - u)


def x_T(backend, seed: int = 0, batch: int = 1) -> torch.Tensor:
    """The backend's seeded initial noise (batch, *latent_shape)."""
    return backend.noise(batch, torch.Generator().manual_seed(seed))
