"""The schedule protocol: a backend's schedule turns a step count into affine sampler steps (STYLE.md 13).

Every sampler update in doodl has the form x_next = a * x + b * out(x, t), where `out` is what the backend's
denoiser returns: eps for variance-preserving models (DDIM, Song et al. 2021, eq. 12 with eta = 0) and the
velocity for rectified-flow models (Euler, x_next = x + (sigma_next - sigma) * v; Esser et al. 2024, SD3).
EDICT (DOODL eq. 5 and 6) couples two such updates, so it works on either family unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from torch import Tensor

Prediction = Literal["epsilon", "velocity"]


@dataclass(frozen=True)
class Step:
    """One sampler update x_next = a * x + b * out(x, t), with x_t = signal * x0 + noise * eps at this step."""

    index: int  # position in the full chain, 0 = noisiest (EDICT's leapfrog parity reads it)
    t: int | float  # what the denoiser is called with: VP an integer training timestep; flow the scheduler's
    #                 timestep sigma * num_train_timesteps (a float), as diffusers passes it
    a: float  # VP: sqrt(alpha_prev / alpha_t); flow: 1
    b: float  # VP: sqrt(1 - alpha_prev) - sqrt(alpha_prev (1 - alpha_t) / alpha_t); flow: sigma_next - sigma
    signal: float = 1.0  # VP: sqrt(alpha_bar_t); flow: 1 - sigma_t
    noise: float = 0.0  # VP: sqrt(1 - alpha_bar_t); flow: sigma_t
    prediction: Prediction = "epsilon"  # what `out` is at this step

    def x0(self, x: Tensor, out: Tensor) -> Tensor:
        """One-step estimate of the clean latent: DOODL eq. 3 solved for x0, or x - sigma v for a flow."""
        if self.prediction == "velocity":
            return x - self.noise * out
        return (x - self.noise * out) / self.signal

    def eps(self, x: Tensor, out: Tensor) -> Tensor:
        """The noise estimate: out itself (VP), or x + (1 - sigma) v for a rectified flow (v = eps - x0)."""
        if self.prediction == "velocity":
            return x + self.signal * out
        return out


class Schedule(Protocol):
    """What a backend owns: the noise schedule, turned into the steps of a chain of a given length."""

    prediction: Prediction

    def steps(self, num_inference_steps: int) -> list[Step]:
        """The chain's steps, noisiest first; the last one ends on the clean latent."""
        ...
