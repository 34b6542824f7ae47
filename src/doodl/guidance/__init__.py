"""Guidance wrappers: each takes a model and returns a model (CFG, classifier guidance)."""

from .cfg import cfg

__all__ = ["cfg"]
