"""Guidance wrappers: each takes a model and returns a model (CFG, classifier guidance)."""

from .cfg import cfg
from .classifier import classifier_guidance, cond_fn_guidance, log_prob_grad

__all__ = ["cfg", "classifier_guidance", "cond_fn_guidance", "log_prob_grad"]
