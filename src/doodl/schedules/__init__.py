"""Noise schedules: beta schedules (betas.py), the step protocol (steps.py), VP/DDIM (vp.py) and rectified flow (flow.py)."""

from .betas import (
    PredictionType,
    alphas_cumprod_from_betas,
    as_eps_model,
    ddim_timesteps,
    linear_betas,
    make_alphas_cumprod,
    scaled_linear_betas,
    v_to_eps,
)
from .flow import FlowSchedule, flux_mu
from .steps import Prediction, Schedule, Step
from .vp import VPSchedule, ddim_coefficients, spaced_timesteps

__all__ = [
    "PredictionType", "alphas_cumprod_from_betas", "as_eps_model", "ddim_timesteps", "linear_betas",
    "make_alphas_cumprod", "scaled_linear_betas", "v_to_eps", "FlowSchedule", "flux_mu", "Prediction",
    "Schedule", "Step", "VPSchedule", "ddim_coefficients", "spaced_timesteps",
]
