"""Variance-preserving discrete schedules as DDIM steps, spaced as diffusers' DDIMScheduler spaces them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from .steps import Prediction, Step

Spacing = Literal["leading", "trailing", "linspace"]


def ddim_coefficients(alpha_t: float, alpha_prev: float) -> tuple[float, float]:
    """(a, b) with x_prev = a x_t + b eps: DDIM's update (Song et al. 2021, eq. 12, eta = 0) as one affine map."""
    a = math.sqrt(alpha_prev / alpha_t)
    b = math.sqrt(1.0 - alpha_prev) - math.sqrt(alpha_prev * (1.0 - alpha_t) / alpha_t)
    return a, b


def spaced_timesteps(num_inference_steps: int, num_train_timesteps: int, spacing: Spacing = "leading",
                     steps_offset: int = 0) -> list[int]:
    """Descending timesteps exactly as diffusers' DDIMScheduler.set_timesteps computes them for `spacing`."""
    n, N = num_inference_steps, num_train_timesteps
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"num_inference_steps must be a positive int, got {n!r}")
    if n > N:
        raise ValueError(f"num_inference_steps ({n}) must not exceed num_train_timesteps ({N})")
    if spacing == "leading":
        ratio = N // n
        return [i * ratio + steps_offset for i in range(n - 1, -1, -1)]
    if spacing == "trailing":
        ratio = N / n
        ts, k = [], float(N)
        while k > 0 and len(ts) < n:  # np.round(np.arange(N, 0, -ratio)) - 1
            ts.append(int(round(k)) - 1)
            k -= ratio
        return ts
    if spacing == "linspace":
        return [int(round(v)) for v in torch.linspace(0, N - 1, n, dtype=torch.float64).flip(0).tolist()]
    raise ValueError(f"timestep_spacing must be 'leading', 'trailing' or 'linspace', got {spacing!r}")


@dataclass(frozen=True)
class VPSchedule:
    """alpha_bar indexed by training timestep; steps() gives DDIM steps that match diffusers' DDIMScheduler."""

    alphas_cumprod: Tensor  # float64 (N,)
    final_alpha_cumprod: float | None = 1.0  # alpha_bar after the last step; None: alphas_cumprod[0]
    #                                           (diffusers' set_alpha_to_one=False, SD's config)
    steps_offset: int = 0  # diffusers' steps_offset (SD: 1), used by "leading" spacing
    timestep_spacing: Spacing = "leading"  # diffusers' timestep_spacing
    prediction: Prediction = field(default="epsilon", init=False)  # backends convert v-prediction to eps

    def __post_init__(self) -> None:
        ac = self.alphas_cumprod
        if not isinstance(ac, Tensor) or ac.ndim != 1 or ac.numel() == 0:
            raise ValueError("alphas_cumprod must be a non-empty 1-D tensor indexed by timestep")
        if not torch.isfinite(ac).all() or (ac <= 0).any() or (ac > 1).any():
            raise ValueError("alphas_cumprod must be finite and lie in (0, 1]")
        object.__setattr__(self, "alphas_cumprod", ac.detach().to("cpu", torch.float64))
        spaced_timesteps(1, ac.numel(), self.timestep_spacing, self.steps_offset)  # validates the spacing name

    @property
    def num_train_timesteps(self) -> int:
        """N, the training schedule's length."""
        return int(self.alphas_cumprod.numel())

    def timesteps(self, num_inference_steps: int) -> list[int]:
        """The descending timesteps of a chain of num_inference_steps."""
        return spaced_timesteps(num_inference_steps, self.num_train_timesteps, self.timestep_spacing, self.steps_offset)

    def steps(self, num_inference_steps: int) -> list[Step]:
        """DDIM steps; each goes to t - N // n as diffusers' DDIMScheduler.step does, past 0 to the final alpha."""
        ts = self.timesteps(num_inference_steps)
        return self.steps_for(ts, prev=[t - self.num_train_timesteps // num_inference_steps for t in ts])

    def steps_for(self, timesteps: list[int], prev: list[int] | None = None) -> list[Step]:
        """DDIM steps over explicit descending timesteps, each to the next one (or `prev[i]`), the last to the final alpha."""
        ac = self.alphas_cumprod
        final = float(ac[0]) if self.final_alpha_cumprod is None else float(self.final_alpha_cumprod)
        if not 0.0 < final <= 1.0:
            raise ValueError(f"final_alpha_cumprod must lie in (0, 1], got {final}")
        out = []
        for i, t in enumerate(timesteps):
            p = prev[i] if prev is not None else (timesteps[i + 1] if i + 1 < len(timesteps) else -1)
            alpha_t, alpha_prev = float(ac[t]), (float(ac[p]) if p >= 0 else final)
            a, b = ddim_coefficients(alpha_t, alpha_prev)
            out.append(Step(i, t, a, b, math.sqrt(alpha_t), math.sqrt(1.0 - alpha_t), "epsilon"))
        return out
