"""Backends: adapters from built diffusion models to eps = model(x, t)."""

from .base import Backend
from .pixel import PixelBackend

__all__ = ["Backend", "PixelBackend"]
