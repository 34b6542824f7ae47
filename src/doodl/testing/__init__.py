"""Tiny random components built from configs, offline: for tests, smoke runs and benchmarks (no hub access)."""

from .tokenizer import tiny_clip_tokenizer

__all__ = ["tiny_clip_tokenizer"]
