"""Classifier guidance: CE / BCE toward a class, target checks, user classifier loaders, real EfficientNet-Lite0."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from doodl.scorers import ClassifierScorer, MultiCrop, load_callable, load_torchscript_classifier


class TinyNet(torch.nn.Module):
    """Mean-pooled pixels -> 5 logits."""

    def __init__(self, channels: int = 3, classes: int = 5):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(x.mean((2, 3)))


def test_cross_entropy_and_bce_match_torch():
    net = TinyNet()
    x = torch.rand(4, 3, 8, 8)
    z = net(x)
    ce = ClassifierScorer(net, 2)(x)
    torch.testing.assert_close(ce, F.cross_entropy(z, torch.full((4,), 2), reduction="none"))
    bce = ClassifierScorer(net, 2, loss="bce")(x)
    onehot = F.one_hot(torch.full((4,), 2), 5).float()
    torch.testing.assert_close(bce, F.binary_cross_entropy_with_logits(z, onehot, reduction="none").mean(1))
    per_image = ClassifierScorer(net, torch.tensor([0, 1, 2, 3]))(x)
    torch.testing.assert_close(per_image, F.cross_entropy(z, torch.arange(4), reduction="none"))


def test_preprocess_and_crops_use_one_classifier_call():
    calls = []
    net = TinyNet(channels=1)

    def counting(x):
        calls.append(x.shape)
        return net(x)

    s = ClassifierScorer(counting, 1, preprocess=lambda x: x[:, :1] * 2, crops=MultiCrop(n_crops=6, size=4))
    x = torch.rand(2, 3, 10, 10, requires_grad=True)
    out = s(x)
    assert out.shape == (2,) and calls == [torch.Size([12, 1, 4, 4])]
    out.sum().backward()
    assert x.grad[:, :1].abs().sum() > 0 and x.grad[:, 1:].abs().sum() == 0


def test_target_out_of_range_names_the_range():
    with pytest.raises(ValueError, match=r"target class 7 is out of range.*5 classes, valid range 0\.\.4"):
        ClassifierScorer(TinyNet(), 7, num_classes=5)
    with pytest.raises(ValueError, match=r"target class -1 is out of range.*valid range 0\.\.4"):
        ClassifierScorer(TinyNet(), -1, num_classes=5)
    late = ClassifierScorer(TinyNet(), 5)  # checked against the logits when num_classes is not given
    with pytest.raises(ValueError, match=r"valid range 0\.\.4"):
        late(torch.rand(1, 3, 4, 4))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(target=1.5), "target must be an integer"),
        (dict(target=True), "target must be an integer"),
        (dict(target=torch.tensor([0.5])), "integer tensor"),
        (dict(target=1, loss="mse"), "loss must be one of"),
        (dict(target=1, num_classes=0), "num_classes"),
        (dict(target=1, preprocess=3), "preprocess"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ClassifierScorer(TinyNet(), **kwargs)


def test_bad_outputs_and_images():
    with pytest.raises(ValueError, match=r"logits of shape \(N, num_classes\)"):
        ClassifierScorer(lambda x: x.mean((1, 2, 3)), 0)(torch.rand(2, 3, 4, 4))
    with pytest.raises(ValueError, match="images"):
        ClassifierScorer(TinyNet(), 0)(torch.rand(3, 4, 4))
    with pytest.raises(ValueError, match="3 classes but the batch has 2"):
        ClassifierScorer(TinyNet(), torch.tensor([0, 1, 2]))(torch.rand(2, 3, 4, 4))


def test_torchscript_and_exported_classifier_files(tmp_path):
    net = TinyNet().eval()
    x = torch.rand(2, 3, 6, 6)
    pt = tmp_path / "net.pt"
    with pytest.warns(DeprecationWarning):  # torch.jit is deprecated in torch 2.13 but still the common format
        torch.jit.script(net).save(str(pt))
    pt2 = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(net, (x,)), str(pt2))
    for path in (pt, pt2):
        loaded = load_torchscript_classifier(path)
        torch.testing.assert_close(loaded(x), net(x))
        xg = x.clone().requires_grad_(True)
        ClassifierScorer(loaded, 1)(xg).sum().backward()
        assert xg.grad.abs().sum() > 0
    with pytest.raises(FileNotFoundError, match="not found"):
        load_torchscript_classifier(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a TorchScript module"):
        load_torchscript_classifier(junk)


def test_load_callable(tmp_path, monkeypatch):
    (tmp_path / "h2_user_models.py").write_text(textwrap.dedent("""
        import torch
        net = torch.nn.Linear(3, 2)
        def build():
            return torch.nn.Linear(3, 4)
        def classify(x):
            return x.mean((2, 3))
        class Needs:
            def __init__(self, k):
                pass
        def broken():
            raise RuntimeError("boom")
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "h2_user_models", raising=False)
    mod = "h2_user_models"
    assert isinstance(load_callable(f"{mod}:net"), torch.nn.Linear)
    assert load_callable(f"{mod}:build").out_features == 4  # a factory without arguments is called
    assert load_callable(f"{mod}:classify").__name__ == "classify"  # a classifier function is kept
    with pytest.raises(ValueError, match="constructor needs arguments"):
        load_callable(f"{mod}:Needs")
    with pytest.raises(ValueError, match="boom"):
        load_callable(f"{mod}:broken")
    with pytest.raises(ValueError, match="no attribute"):
        load_callable(f"{mod}:missing")
    with pytest.raises(ValueError, match="cannot import module"):
        load_callable("h2_no_such_module:net")
    for bad in ("h2_user_models", ":net", "h2_user_models:"):
        with pytest.raises(ValueError, match="package.module:attribute"):
            load_callable(bad)


def _tiny_vae():
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4, layers_per_block=1,
        block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
    )
    return vae.eval().requires_grad_(False)


def test_efficientnet_gradient_reaches_latents_through_a_tiny_sd_decoder(efficientnet):
    net, preprocess = efficientnet
    vae = _tiny_vae()
    latents = torch.randn(1, 4, 8, 8, requires_grad=True)
    images = (vae.decode(latents).sample / 2 + 0.5).clamp(0, 1)
    assert images.shape == (1, 3, 16, 16)
    loss = ClassifierScorer(net, 207, preprocess, num_classes=1000)(images)
    loss.sum().backward()
    assert torch.isfinite(latents.grad).all() and latents.grad.abs().sum() > 0


def test_efficientnet_guidance_raises_the_target_class_probability(efficientnet):
    net, preprocess = efficientnet
    target = 207  # ImageNet "golden retriever"
    scorer = ClassifierScorer(net, target, preprocess, num_classes=1000)
    torch.manual_seed(0)
    p = (0.5 * torch.randn(1, 3, 32, 32)).requires_grad_(True)
    image = lambda: F.interpolate(torch.sigmoid(p), size=224, mode="bilinear")  # noqa: E731

    def prob() -> float:
        with torch.no_grad():
            return scorer.logits(image()).softmax(-1)[0, target].item()

    before = prob()
    opt = torch.optim.Adam([p], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        scorer(image()).sum().backward()
        opt.step()
    assert prob() > 3 * before
    with pytest.raises(ValueError, match=r"valid range 0\.\.999"):
        ClassifierScorer(net, 1000, preprocess, num_classes=1000)
    with pytest.raises(ValueError, match="images must have 1 or 3 channels"):
        scorer(torch.rand(1, 4, 32, 32))
