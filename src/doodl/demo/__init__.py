"""The embedded default: DOODL against one-step classifier guidance on the zoo's Fashion-MNIST DDPM (DOODL §5.2)."""

from .vocab import METHODS, MethodResult, VocabConfig, VocabResult, run_vocab

__all__ = ["METHODS", "MethodResult", "VocabConfig", "VocabResult", "run_vocab"]
