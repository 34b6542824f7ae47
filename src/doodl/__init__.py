"""doodl: steer pretrained diffusion models with any differentiable scorer (DOODL, Wallace et al. ICCV 2023)."""

from .samplers import (
    Denoiser,
    RoundTrip,
    ddim_invert,
    ddim_sample,
    edict_invert,
    edict_sample,
    roundtrip_error,
)
from .optimizer import DoodlConfig, DoodlResult, InvertedImage, SampleResult, invert_image, optimize, sample
from .schedules import FlowSchedule, Schedule, Step, VPSchedule, ddim_timesteps, make_alphas_cumprod
from .conditioning import Conditioning
from .backends import PixelBackend, StableDiffusionBackend, load_backend, register_backend
from . import scorers, testing  # testing: tiny offline pipelines (save_tiny_pipeline)
from .scorers import MultiCrop, build_scorer, scorer_from_guides, weighted_sum
from .runs import ModelCache, RunRecord, RunSpec, execute

__version__ = "0.1.0"

__all__ = [
    "Denoiser", "RoundTrip", "ddim_invert", "ddim_sample", "edict_invert", "edict_sample",
    "roundtrip_error", "ddim_timesteps", "make_alphas_cumprod",
    "Schedule", "Step", "VPSchedule", "FlowSchedule", "Conditioning",
    "DoodlConfig", "DoodlResult", "InvertedImage", "SampleResult", "invert_image", "optimize", "sample",
    "PixelBackend", "StableDiffusionBackend", "load_backend", "register_backend",
    "scorers", "MultiCrop", "build_scorer", "scorer_from_guides", "weighted_sum",
    "ModelCache", "RunRecord", "RunSpec", "execute",
]
