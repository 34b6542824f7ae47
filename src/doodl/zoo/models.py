"""Architectures of the zoo: pixel UNets (diffusers UNet2DModel) and two small, different CNN classifiers."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

# 28x28 Fashion-MNIST padded to 32x32; three resolutions, attention only at 8x8 (our measurement: fits a
# 2-core CPU budget for both training and the demo's DOODL runs).
UNET_CONFIG = dict(
    sample_size=32,
    in_channels=1,
    out_channels=1,
    layers_per_block=1,
    block_out_channels=(32, 64, 96),
    down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
    norm_num_groups=8,
    attention_head_dim=32,
)
NUM_CLASSES = 10  # label NUM_CLASSES is the null label of the conditional model (label dropout)


def unet_config(conditional: bool = False, config: dict[str, Any] | None = None,
                num_classes: int = NUM_CLASSES) -> dict[str, Any]:
    """Keyword config of the zoo UNet (UNET_CONFIG unless given), JSON-ready, with num_classes + 1 class embeddings
    (the last one the null label) if conditional."""
    cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in dict(config or UNET_CONFIG).items()}
    if conditional:
        cfg["num_class_embeds"] = num_classes + 1
    return cfg


def build_unet(conditional: bool = False, config: dict[str, Any] | None = None):
    """A UNet2DModel for 32x32 single-channel images; class-conditional with num_class_embeds = 11."""
    from diffusers import UNet2DModel

    return UNet2DModel(**unet_config(conditional, config))


class GuidanceCNN(nn.Module):
    """The guidance classifier: a small plain CNN on clean images in [0, 1], (B, 1, 28, 28) -> logits (B, 10)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.SiLU(), nn.Conv2d(w, w, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.SiLU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * w * 49, 128), nn.SiLU(), nn.Dropout(0.3), nn.Linear(128, 10),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits from images in [0, 1]."""
        return self.body(x * 2 - 1)


class EvalCNN(nn.Module):
    """The independent evaluation classifier (BatchNorm, residual blocks, global pooling); features() feeds FMNIST-FID."""

    def __init__(self, width: int = 48, feature_dim: int = 128) -> None:
        super().__init__()
        w = width

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

        self.stem = block(1, w)
        self.stage1 = nn.Sequential(block(w, w), block(w, w))
        self.down1 = nn.Sequential(block(w, 2 * w), nn.MaxPool2d(2))
        self.stage2 = nn.Sequential(block(2 * w, 2 * w), block(2 * w, 2 * w))
        self.down2 = nn.Sequential(block(2 * w, 4 * w), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, feature_dim), nn.ReLU())
        self.fc = nn.Linear(feature_dim, 10)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features (B, feature_dim) of images in [0, 1]."""
        h = self.stem((x - 0.286) / 0.353)  # Fashion-MNIST train mean / std
        h = h + self.stage1(h)
        h = self.down1(h)
        h = h + self.stage2(h)
        return self.head(self.down2(h))

    def forward(self, x: Tensor) -> Tensor:
        """Logits from images in [0, 1]."""
        return self.fc(self.features(x))
