"""Fixtures for the zoo tests: synthetic Fashion-MNIST-shaped data and a tiny trained zoo in a temporary folder."""

from __future__ import annotations

import pytest
import torch

TINY_UNET = dict(
    sample_size=32,
    in_channels=1,
    out_channels=1,
    layers_per_block=1,
    block_out_channels=(4, 8),
    down_block_types=("DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    norm_num_groups=4,
    attention_head_dim=4,
)


def synthetic_data(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (n, 28, 28) images of dim noise with a bright centred square whose side (4 + 2 label) encodes the
    label (n,): learnable by position-blind (global-pooling) networks too."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    images = torch.randint(0, 40, (n, 28, 28), generator=g, dtype=torch.uint8)
    for i, y in enumerate(labels.tolist()):
        lo = 12 - y
        images[i, lo : lo + 4 + 2 * y, lo : lo + 4 + 2 * y] = 220
    return images, labels


def tiny_ddpm_kw(**kw):
    """Keyword overrides that make a DDPMConfig train in about a second on CPU."""
    base = dict(steps=12, batch_size=8, lr=3e-3, warmup_steps=0, log_every=3, grid_seeds=2, grid_steps=2,
                unet_config=TINY_UNET)
    return {**base, **kw}


def tiny_classifier_kw(**kw):
    """Keyword overrides that make a ClassifierConfig train in about a second on CPU."""
    base = dict(steps=40, batch_size=32, lr=3e-3, warmup_steps=0, log_every=5, width=8)
    return {**base, **kw}


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory):
    """All four zoo models trained tiny on synthetic data into one folder: {name: TrainResult}, plus 'dir'."""
    from doodl.zoo import default_config, train_classifier, train_ddpm

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("zoo")
    data, test = synthetic_data(64), synthetic_data(40, seed=1)
    results = {"dir": out}
    for name in ("fashion-guide", "fashion-eval"):
        results[name] = train_classifier(default_config(name, **tiny_classifier_kw()), data, test, out_dir=out)
    for name in ("fashion-ddpm", "fashion-cond-ddpm"):
        results[name] = train_ddpm(default_config(name, **tiny_ddpm_kw()), data, out_dir=out)
    torch.set_num_threads(before)
    return results
