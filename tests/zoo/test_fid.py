"""FMNIST-FID, target accuracy and classifier accuracy with injected toy networks that have known answers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from doodl.zoo import EvalCNN, classifier_accuracy, fmnist_features, fmnist_fid, target_accuracy


class BrightnessClassifier(nn.Module):
    """Class = mean brightness bucket (0..9); features = (mean, std) of the pixels."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def features(self, x):
        return torch.stack([x.mean((1, 2, 3)), x.std((1, 2, 3))], 1) + self.dummy

    def forward(self, x):
        bucket = (x.mean((1, 2, 3)) * 10).clamp(0, 9.999).floor().long()
        return nn.functional.one_hot(bucket, 10).float() + self.dummy


def _images(levels):
    g = torch.Generator().manual_seed(0)
    base = torch.tensor(levels, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 28, 28)
    return (base + 0.01 * torch.randn(base.shape, generator=g)).clamp(0, 1)


def test_target_and_classifier_accuracy_known_answers():
    model = BrightnessClassifier()
    imgs = _images([0.05, 0.15, 0.25, 0.35])  # buckets 0, 1, 2, 3
    assert target_accuracy(imgs, model, torch.tensor([0, 1, 2, 3])) == 1.0
    assert target_accuracy(imgs, model, 1) == 0.25
    uint8 = (imgs[:, 0] * 255).round().to(torch.uint8)
    assert classifier_accuracy(model, uint8, torch.tensor([0, 1, 0, 0])) == 0.5


def test_fid_zero_for_same_set_and_grows_with_shift():
    model = BrightnessClassifier()
    g = torch.Generator().manual_seed(1)
    a = torch.rand(64, generator=g).mul(0.5).tolist()
    imgs = _images(a)
    assert fmnist_fid(imgs, imgs, model) == pytest.approx(0.0, abs=1e-6)
    near = fmnist_fid(imgs, _images([x + 0.05 for x in a]), model)
    far = fmnist_fid(imgs, _images([x + 0.4 for x in a]), model)
    assert 0 < near < far


def test_eval_cnn_features_shape_and_mode_restored():
    torch.manual_seed(0)
    model = EvalCNN(width=8).train()
    feats = fmnist_features(torch.rand(5, 1, 28, 28), model, batch_size=2)
    assert feats.shape == (5, 128) and model.training  # eval mode only inside


def test_bad_inputs_name_the_argument():
    model = BrightnessClassifier()
    with pytest.raises(ValueError, match="images must be a \\(N, 1, 28, 28\\)"):
        fmnist_features(torch.rand(2, 3, 28, 28), model)
    with pytest.raises(ValueError, match="reference_images"):
        fmnist_fid(torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28) * 2, model)
    with pytest.raises(ValueError, match="features"):
        fmnist_features(torch.rand(2, 1, 28, 28), nn.Linear(2, 2))
    with pytest.raises(ValueError, match="target"):
        target_accuracy(torch.rand(3, 1, 28, 28), model, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="target classes"):
        target_accuracy(torch.rand(3, 1, 28, 28), model, 12)
