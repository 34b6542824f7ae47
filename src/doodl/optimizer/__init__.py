"""DOODL: the latent optimiser (Algorithm 1), its baselines and real-image editing."""

from .baselines import sample
from .config import DoodlConfig
from .editing import InvertedImage, invert_image
from .loop import optimize
from .result import DoodlResult, SampleResult, StepRecord

__all__ = ["DoodlConfig", "optimize", "sample", "invert_image", "InvertedImage", "DoodlResult", "SampleResult", "StepRecord"]
