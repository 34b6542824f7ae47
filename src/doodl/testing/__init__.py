"""Tiny random components built from configs, offline: for tests, smoke runs and benchmarks (no hub access)."""

from .clip import save_tiny_clip, tiny_clip_embedder, tiny_clip_model
from .sd import save_tiny_sd, tiny_sd_components, tiny_sd_pipeline
from .pipelines import save_tiny_pipeline, tiny_pipeline
from .tokenizer import tiny_clip_tokenizer, tiny_t5_tokenizer

__all__ = ["save_tiny_pipeline", "tiny_pipeline", "tiny_t5_tokenizer", "tiny_clip_tokenizer", "save_tiny_clip", "tiny_clip_embedder", "tiny_clip_model", "save_tiny_sd", "tiny_sd_components", "tiny_sd_pipeline"]
