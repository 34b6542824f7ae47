"""Rectified-flow schedules as Euler steps, matching diffusers' FlowMatchEulerDiscreteScheduler (SD3, Flux)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import numpy as np
import torch

from .steps import Prediction, Step

BaseSigmas = Literal["timesteps", "linspace"]


def flux_mu(image_seq_len: int, base_seq_len: int = 256, max_seq_len: int = 4096, base_shift: float = 0.5,
            max_shift: float = 1.15) -> float:
    """Flux's resolution-dependent shift: mu linear in the number of latent tokens (FluxPipeline's calculate_shift)."""
    m = (max_shift - base_shift) / (max_seq_len - base_seq_len)
    return image_seq_len * m + (base_shift - m * base_seq_len)


@dataclass(frozen=True)
class FlowSchedule:
    """Sigmas from 1 (noise) to 0 (data); x_t = (1 - sigma) x0 + sigma eps, the network predicts v = eps - x0.

    base_sigmas: "timesteps" is the scheduler's own spacing (SD3's pipeline); "linspace" is
    linspace(1, 1/n, n), what FluxPipeline passes as `sigmas`. mu: the dynamic shift (Flux), required when
    use_dynamic_shifting is set.
    """

    num_train_timesteps: int = 1000
    shift: float = 1.0  # SD3: 3.0; Flux-schnell: 1.0
    use_dynamic_shifting: bool = False  # Flux-dev: True, with mu from flux_mu
    mu: float | None = None
    shift_terminal: float | None = None
    time_shift_type: Literal["exponential", "linear"] = "exponential"
    base_sigmas: BaseSigmas = "timesteps"
    prediction: Prediction = field(default="velocity", init=False)

    def __post_init__(self) -> None:
        if self.use_dynamic_shifting and self.mu is None:
            raise ValueError("FlowSchedule: use_dynamic_shifting needs mu (Flux: flux_mu(image_seq_len))")
        if self.base_sigmas not in ("timesteps", "linspace"):
            raise ValueError(f"base_sigmas must be 'timesteps' or 'linspace', got {self.base_sigmas!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, mu: float | None = None,
                    base_sigmas: BaseSigmas = "timesteps") -> "FlowSchedule":
        """From a FlowMatchEulerDiscreteScheduler config; sigma conversions it has and we do not are refused."""
        for key in ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "invert_sigmas", "stochastic_sampling"):
            if config.get(key):
                raise ValueError(f"scheduler config sets {key}=True, which doodl's flow sampler does not support")
        return cls(int(config.get("num_train_timesteps", 1000)), float(config.get("shift", 1.0)),
                   bool(config.get("use_dynamic_shifting", False)), mu, config.get("shift_terminal"),
                   config.get("time_shift_type", "exponential"), base_sigmas)

    def _shifted(self, s: np.ndarray) -> np.ndarray:
        if self.use_dynamic_shifting:
            assert self.mu is not None
            e = math.exp(self.mu) if self.time_shift_type == "exponential" else self.mu
            return e / (e + (1 / s - 1))
        return self.shift * s / (1 + (self.shift - 1) * s)

    def sigmas(self, num_inference_steps: int) -> list[float]:
        """n + 1 sigmas, the last 0, computed in float32 as diffusers computes them."""
        n, N = num_inference_steps, self.num_train_timesteps
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"num_inference_steps must be a positive int, got {n!r}")
        if self.base_sigmas == "linspace":
            s = np.linspace(1.0, 1 / n, n).astype(np.float32)
        else:
            train = np.linspace(1, N, N, dtype=np.float32)[::-1].copy() / N
            if not self.use_dynamic_shifting:
                train = self.shift * train / (1 + (self.shift - 1) * train)
            s = np.linspace(float(train[0]) * N, float(train[-1]) * N, n) / N
        s = self._shifted(s)
        if self.shift_terminal:
            one_minus = 1 - s
            s = 1 - one_minus / (one_minus[-1] / (1 - self.shift_terminal))
        sig = torch.from_numpy(np.asarray(s)).to(torch.float32)
        return [float(v) for v in sig.tolist()] + [0.0]

    def steps(self, num_inference_steps: int) -> list[Step]:
        """Euler steps x_next = x + (sigma_next - sigma) v, evaluated at timestep sigma * N."""
        sig = self.sigmas(num_inference_steps)
        N = self.num_train_timesteps
        t32 = torch.tensor(sig[:-1], dtype=torch.float32) * N  # diffusers' timesteps, float32
        return [Step(i, float(t32[i]), 1.0, sig[i + 1] - sig[i], 1.0 - sig[i], sig[i], "velocity")
                for i in range(num_inference_steps)]
