"""Samplers and their inverses as small pure functions over a backend's steps: DDIM / Euler and EDICT (DOODL eq. 5 and 6)."""

from .common import Denoiser, NonFiniteError, Step, check_steps, ddim_coefficients, make_steps
from .ddim import ddim_invert, ddim_inverse_step, ddim_sample, ddim_step
from .bdia import bdia_invert, bdia_sample
from .chain import edict_invert, edict_sample
from .edict import GradMode, edict_inverse_step, edict_step
from .precision import RoundTrip, roundtrip_error

__all__ = [
    "Denoiser", "NonFiniteError", "Step", "check_steps", "ddim_coefficients", "make_steps",
    "ddim_step", "ddim_inverse_step", "ddim_sample", "ddim_invert",
    "GradMode", "edict_step", "edict_inverse_step", "edict_sample", "edict_invert",
    "RoundTrip", "roundtrip_error", "bdia_sample", "bdia_invert",
]
