"""Samplers and their inverses as small pure functions: DDIM and EDICT (DOODL eq. 5 and 6)."""

from .common import Denoiser, NonFiniteError, Step, ddim_coefficients, make_steps
from .ddim import ddim_invert, ddim_inverse_step, ddim_sample, ddim_step
from .edict import GradMode, edict_invert, edict_inverse_step, edict_sample, edict_step
from .precision import RoundTrip, roundtrip_error

__all__ = [
    "Denoiser", "NonFiniteError", "Step", "ddim_coefficients", "make_steps",
    "ddim_step", "ddim_inverse_step", "ddim_sample", "ddim_invert",
    "GradMode", "edict_step", "edict_inverse_step", "edict_sample", "edict_invert",
    "RoundTrip", "roundtrip_error",
]
