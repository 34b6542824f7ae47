"""FluxBackend (dev and schnell) against diffusers' FluxPipeline on tiny random components (CPU, offline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from doodl.backends.flux import FluxBackend, pack, unpack
from doodl.schedules import flux_mu
from doodl.testing import tiny_pipeline
from family_helpers import capture_calls, vanilla, x_T

PROMPT = "a red cube"
SIZE = {"height": 32, "width": 32}


@pytest.fixture(scope="module")
def dev():
    return tiny_pipeline("flux")


@pytest.fixture(scope="module")
def schnell():
    return tiny_pipeline("flux-schnell")


def test_pack_and_unpack_are_inverse_and_match_the_pipeline():
    from diffusers import FluxPipeline

    x = torch.randn(2, 3, 6, 8)
    assert torch.equal(pack(x), FluxPipeline._pack_latents(x, 2, 3, 6, 8))
    assert torch.equal(unpack(pack(x), 6, 8), x)


def test_unpacked_layout_and_linspace_sigmas_with_mu(dev):
    from diffusers import FlowMatchEulerDiscreteScheduler

    b = FluxBackend(dev, **SIZE)
    assert b.latent_shape == (1, 32, 32) and b.image_shape == (3, 32, 32)
    ref = FlowMatchEulerDiscreteScheduler.from_config(b.scheduler_config)
    ref.set_timesteps(sigmas=np.linspace(1.0, 1 / 6, 6), mu=flux_mu(256, 256, 4096, 0.5, 1.15))
    assert [s.t for s in b.steps(6)] == ref.timesteps.tolist()


@pytest.mark.parametrize("kind", ["flux", "flux-schnell"])
def test_network_output_equals_the_pipelines_transformer_call(dev, schnell, kind):
    pipe = dev if kind == "flux" else schnell
    b = FluxBackend(pipe, **SIZE)
    kw = {"guidance_scale": 2.5} if kind == "flux" else {}
    x = x_T(b)
    calls, handle = capture_calls(pipe.transformer)
    try:
        with torch.no_grad():
            pipe(PROMPT, latents=pack(x), num_inference_steps=2, output_type="latent", **SIZE, **kw)
    finally:
        handle.remove()
    first = calls[0]
    t = float(first["kwargs"]["timestep"][0]) * 1000
    with torch.no_grad():
        ours = b.denoiser(prompt=PROMPT, **kw)(x, t)
    assert (first["kwargs"]["guidance"] is None) == (kind == "flux-schnell")
    assert (pack(ours) - first["out"]).abs().max() <= 1e-5


@pytest.mark.parametrize("kind", ["flux", "flux-schnell"])
def test_vanilla_sampling_equals_the_pipeline(dev, schnell, kind):
    pipe = dev if kind == "flux" else schnell
    b = FluxBackend(pipe, **SIZE)
    kw = {"guidance_scale": 3.5} if kind == "flux" else {}
    x = x_T(b, seed=1)
    with torch.no_grad():
        ref = unpack(pipe(PROMPT, latents=pack(x), num_inference_steps=4, output_type="latent", **SIZE, **kw).images, 32, 32)
        ours = vanilla(b, b.denoiser(prompt=PROMPT, **kw), x, 4)
    assert (ours - ref).abs().max() <= 1e-4


def test_dev_guidance_scale_is_the_guidance_embedding(dev):
    b = FluxBackend(dev, **SIZE)
    x = x_T(b, seed=2)
    with torch.no_grad():
        a = b.denoiser(prompt=PROMPT, guidance_scale=5.0)(x, 500.0)
        c = b.denoiser(prompt=PROMPT, guidance=5.0)(x, 500.0)
        d = b.denoiser(prompt=PROMPT)(x, 500.0)  # default 3.5
    assert torch.equal(a, c) and not torch.equal(a, d)
    with pytest.raises(ValueError, match="not both"):
        b.denoiser(prompt=PROMPT, guidance_scale=5.0, guidance=2.0)


def test_schnell_refuses_guidance_scale_by_name(schnell):
    b = FluxBackend(schnell, **SIZE)
    with pytest.raises(ValueError, match="guidance_scale is not supported by Flux-schnell"):
        b.denoiser(prompt=PROMPT, guidance_scale=3.5)
    with pytest.raises(ValueError, match="guidance is not supported by Flux-schnell"):
        b.denoiser(prompt=PROMPT, guidance=3.5)
    with pytest.raises(ValueError, match="negative_prompt"):
        b.denoiser(prompt=PROMPT, negative_prompt="blue")


def test_precomputed_t5_embeddings_give_the_same_output(dev):
    b = FluxBackend(dev, **SIZE)
    with torch.no_grad():
        pe, pooled, _ = dev.encode_prompt(PROMPT, None, device="cpu")
        x = x_T(b, batch=2)
        a = b.denoiser(prompt=PROMPT)(x, 800.0)
        c = b.denoiser(prompt_embeds=pe, pooled_prompt_embeds=pooled)(x, 800.0)
    assert torch.equal(a, c)


def test_decode_is_differentiable_through_the_unpacked_latent(dev):
    b = FluxBackend(dev, **SIZE)
    x = x_T(b).requires_grad_(True)
    images = b.decode(x)
    images.mean().backward()
    assert images.shape == (1, 3, 32, 32) and x.grad.abs().sum() > 0
    assert b.encode(images.detach()).shape == (1, 1, 32, 32)


def test_bad_inputs_name_what_was_expected(dev):
    b = FluxBackend(dev, **SIZE)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 32, 32\).*unpacked"):
        b.denoiser(prompt=PROMPT)(pack(x_T(b)), 500.0)
    with pytest.raises(ValueError, match="height must be a positive multiple of 2"):
        FluxBackend(dev, height=33, width=32)
    with pytest.raises(ValueError, match=r"images must have shape \(B, 3, 32, 32\)"):
        b.encode(torch.zeros(1, 3, 64, 64))
