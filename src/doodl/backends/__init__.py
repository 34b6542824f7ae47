"""Backends: adapters from built diffusion models to eps = model(x, t), and the one loading entry point."""

from .base import Backend
from .loading import known_backends, load_backend, register_backend
from .pixel import PixelBackend
from .sd import StableDiffusionBackend

__all__ = ["Backend", "PixelBackend", "StableDiffusionBackend", "known_backends", "load_backend", "register_backend"]
