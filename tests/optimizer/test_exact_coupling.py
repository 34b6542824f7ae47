"""Exact coupling by default: float64 EDICT arithmetic, an edit that regenerates exactly, both latents returned."""

from __future__ import annotations

import pytest
import torch

import doodl
from doodl.optimizer.defaults import defaults_for
from doodl.optimizer.config import DoodlConfig, coupling_dtype_for


def brightness(images: torch.Tensor) -> torch.Tensor:
    return images.mean(dim=(1, 2, 3))


@pytest.fixture(scope="module")
def tiny_sd():
    from doodl.backends import StableDiffusionBackend
    from doodl.testing import tiny_sd_pipeline

    return StableDiffusionBackend.from_pipeline(tiny_sd_pipeline())  # float32 network


def test_coupling_dtype_defaults_and_checks():
    assert coupling_dtype_for("cpu") == torch.float64
    assert coupling_dtype_for("cuda:0") == torch.float64  # no CUDA needed to resolve the name
    assert coupling_dtype_for("cpu", "float32") == torch.float32
    assert coupling_dtype_for("mps") == torch.float32  # MPS has no float64
    with pytest.raises(ValueError, match="MPS"):
        coupling_dtype_for("mps", torch.float64)
    assert DoodlConfig(coupling_dtype="float64").coupling_dtype == torch.float64
    with pytest.raises(ValueError, match="coupling_dtype"):
        DoodlConfig(coupling_dtype="float16")


@pytest.mark.parametrize("steps", [5, 4])
def test_tiny_sd_edit_round_trip_is_exact_in_latent_space(tiny_sd, steps):
    # The criterion: invert an image (default dtype), regenerate with doodl.optimize's defaults.
    img = torch.rand((1, *tiny_sd.image_shape), generator=torch.Generator().manual_seed(0))
    inv = doodl.invert_image(tiny_sd, img, num_inference_steps=steps)
    assert inv.x.dtype == torch.float64
    seen = {}
    r = doodl.optimize(tiny_sd, brightness, seed=0, init=(inv.x, inv.y), steps=inv.steps, opt_steps=0,
                       progress=False, callback=lambda d: seen.update(d))
    assert r.coupling_dtype == torch.float64 and r.pair[0].dtype == torch.float64
    model = tiny_sd.denoiser()
    with torch.no_grad():
        z0 = tiny_sd.encode(img).double()
        x0, y0 = doodl.edict_sample(model, *r.pair, r.steps, grad="none", model_dtype=tiny_sd.dtype)
    assert (inv.x - z0).abs().max() > 0.1  # the inversion really moved
    assert max((x0 - z0).abs().max().item(), (y0 - z0).abs().max().item()) < 1e-9
    torch.testing.assert_close(r.images, tiny_sd.decode(z0), atol=1e-6, rtol=0)


def test_float32_coupling_is_not_exact_but_close(tiny_sd):
    img = torch.rand((1, *tiny_sd.image_shape), generator=torch.Generator().manual_seed(1))
    inv = doodl.invert_image(tiny_sd, img, num_inference_steps=6, dtype="float32")
    assert inv.x.dtype == torch.float32
    model = tiny_sd.denoiser()
    with torch.no_grad():
        z0 = tiny_sd.encode(img)
        x0, _ = doodl.edict_sample(model, inv.x, inv.y, inv.steps, grad="none")
    assert 0 < (x0 - z0).abs().max().item() < 1e-3


def test_result_returns_both_latents_and_they_regenerate_the_images(toy_backend):
    img = torch.linspace(0.2, 0.8, 64).reshape(1, 1, 8, 8)
    inv = doodl.invert_image(toy_backend, img, num_inference_steps=7)
    r = doodl.optimize(toy_backend, brightness, seed=0, init=(inv.x, inv.y), steps=inv.steps,
                       opt_steps=3, lr=20.0, grad_clip=0.05, progress=False)
    x, y = r.pair
    assert not torch.equal(x, y)  # untied: an edit needs both
    with torch.no_grad():
        # the run's p is the backend family's default (the zoo's linear-beta family: not the paper's 0.93)
        x0, _ = doodl.edict_sample(toy_backend.denoiser(), x, y, r.steps, defaults_for(toy_backend).mix, grad="none")
    assert not torch.equal(r.images, r.initial_images)  # the updates moved it (so the check below has teeth)
    torch.testing.assert_close(toy_backend.decode(x0.float()), r.images, atol=0, rtol=0)  # decoded in float32
    tied = doodl.optimize(toy_backend, brightness, seed=0, num_inference_steps=4, opt_steps=1, progress=False)
    assert torch.equal(tied.pair[0], tied.pair[1])
