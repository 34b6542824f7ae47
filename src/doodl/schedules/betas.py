"""Noise schedules and DDIM timestep spacing (DDPM, Ho et al. 2020; DDIM, Song et al. 2021; SD's scaled-linear)."""

from __future__ import annotations

from typing import Callable, Literal

import torch
from torch import Tensor

PredictionType = Literal["epsilon", "v_prediction"]


def scaled_linear_betas(num_train_timesteps: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012) -> Tensor:
    """Stable Diffusion's betas: linear in sqrt(beta) from beta_start to beta_end (LDM, Rombach et al. 2022)."""
    return torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float64) ** 2


def linear_betas(num_train_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """DDPM's linear betas (Ho et al. 2020, §4)."""
    return torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float64)


def alphas_cumprod_from_betas(betas: Tensor) -> Tensor:
    """alpha_bar_t = prod_{s<=t} (1 - beta_s), float64 (DDPM eq. 4)."""
    return torch.cumprod(1.0 - betas.to(torch.float64), dim=0)


def make_alphas_cumprod(kind: Literal["scaled_linear", "linear"] = "scaled_linear", num_train_timesteps: int = 1000) -> Tensor:
    """alpha_bar for a named schedule: 'scaled_linear' (SD) or 'linear' (DDPM)."""
    if kind == "scaled_linear":
        return alphas_cumprod_from_betas(scaled_linear_betas(num_train_timesteps))
    if kind == "linear":
        return alphas_cumprod_from_betas(linear_betas(num_train_timesteps))
    raise ValueError(f"schedule kind must be 'scaled_linear' or 'linear', got {kind!r}")


def ddim_timesteps(num_inference_steps: int, num_train_timesteps: int = 1000, steps_offset: int = 0) -> list[int]:
    """Descending DDIM timesteps with 'leading' spacing, identical to diffusers' DDIMScheduler.set_timesteps."""
    if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
        raise ValueError(f"num_inference_steps must be a positive int, got {num_inference_steps!r}")
    if num_inference_steps > num_train_timesteps:
        raise ValueError(
            f"num_inference_steps ({num_inference_steps}) must not exceed num_train_timesteps ({num_train_timesteps})"
        )
    ratio = num_train_timesteps // num_inference_steps
    return [i * ratio + steps_offset for i in range(num_inference_steps - 1, -1, -1)]


def v_to_eps(v: Tensor, x: Tensor, alpha_bar: Tensor | float) -> Tensor:
    """eps from a v-prediction: eps = sqrt(a) v + sqrt(1 - a) x (Salimans & Ho 2022, §4)."""
    a = torch.as_tensor(alpha_bar, dtype=x.dtype, device=x.device)
    return a.sqrt() * v + (1 - a).sqrt() * x


def as_eps_model(
    model: Callable[[Tensor, int | Tensor], Tensor], alphas_cumprod: Tensor, prediction_type: PredictionType = "epsilon"
) -> Callable[[Tensor, int | Tensor], Tensor]:
    """Wrap a model so it always returns eps; the one place where v-prediction is converted."""
    if prediction_type == "epsilon":
        return model
    if prediction_type != "v_prediction":
        raise ValueError(f"prediction_type must be 'epsilon' or 'v_prediction', got {prediction_type!r}")

    def eps_model(x: Tensor, t: int | Tensor) -> Tensor:
        v = model(x, t)
        return v_to_eps(v.to(x.dtype), x, alphas_cumprod[int(t)])

    return eps_model
