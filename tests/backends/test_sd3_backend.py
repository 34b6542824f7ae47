"""StableDiffusion3Backend against diffusers' StableDiffusion3Pipeline on tiny random components (CPU, offline)."""

from __future__ import annotations

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from doodl.backends.sd3 import StableDiffusion3Backend
from doodl.testing import tiny_pipeline
from family_helpers import capture_calls, cfg_of, vanilla, x_T

PROMPT = "a red cube"


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline("sd3")


@pytest.fixture(scope="module")
def backend(pipe):
    return StableDiffusion3Backend(pipe)


def test_shapes_and_flow_schedule_match_the_scheduler(backend):
    assert backend.latent_shape == (4, 32, 32) and backend.image_shape == (3, 32, 32)
    ref = FlowMatchEulerDiscreteScheduler.from_config(backend.scheduler_config)
    ref.set_timesteps(28)
    assert [s.t for s in backend.steps(28)] == ref.timesteps.tolist()


@pytest.mark.parametrize("negative", [None, "blue"])
def test_network_output_equals_the_pipelines_transformer_call(pipe, backend, negative):
    x = x_T(backend)
    calls, handle = capture_calls(pipe.transformer)
    try:
        with torch.no_grad():
            pipe(PROMPT, negative_prompt=negative, latents=x, num_inference_steps=2, guidance_scale=7.0, output_type="latent")
    finally:
        handle.remove()
    first = calls[0]
    t = float(first["kwargs"]["timestep"][0])
    with torch.no_grad():
        ours = backend.denoiser(prompt=PROMPT, negative_prompt=negative, guidance_scale=7.0)(x, t)
    assert (ours - cfg_of(first["out"], 7.0)).abs().max() <= 1e-5


@pytest.mark.parametrize("w", [1.0, 4.5])
def test_vanilla_sampling_equals_the_pipeline_with_its_scheduler(pipe, backend, w):
    x = x_T(backend, seed=1)
    with torch.no_grad():
        ref = pipe(PROMPT, latents=x, num_inference_steps=4, guidance_scale=w, output_type="latent").images
        ours = vanilla(backend, backend.denoiser(prompt=PROMPT, guidance_scale=w), x, 4)
    assert (ours - ref).abs().max() <= 1e-4


def test_without_t5_the_t5_part_is_zeros_as_in_diffusers():
    pipe = tiny_pipeline("sd3")
    pipe.text_encoder_3, pipe.tokenizer_3 = None, None
    backend = StableDiffusion3Backend(pipe)
    x = x_T(backend, seed=3)
    with torch.no_grad():
        ref = pipe(PROMPT, latents=x, num_inference_steps=3, output_type="latent").images
        ours = vanilla(backend, backend.denoiser(prompt=PROMPT), x, 3)
    assert (ours - ref).abs().max() <= 1e-4


def test_precomputed_embeddings_need_no_text_encoders(pipe):
    with torch.no_grad():
        pe, npe, pooled, npooled = pipe.encode_prompt(PROMPT, None, None, device="cpu", negative_prompt="blue")
    bare = tiny_pipeline("sd3")
    for k in ("text_encoder", "text_encoder_2", "text_encoder_3", "tokenizer", "tokenizer_2", "tokenizer_3"):
        setattr(bare, k, None)
    backend = StableDiffusion3Backend(bare)
    full = StableDiffusion3Backend(tiny_pipeline("sd3"))
    x = x_T(backend, batch=2)
    with torch.no_grad():
        a = full.denoiser(prompt=PROMPT, negative_prompt="blue")(x, 700.0)
        b = backend.denoiser(prompt_embeds=pe, pooled_prompt_embeds=pooled, negative_prompt_embeds=npe,
                             negative_pooled_prompt_embeds=npooled)(x, 700.0)
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="needs tokenizer, text_encoder, tokenizer_2, text_encoder_2"):
        backend.denoiser(prompt=PROMPT)
    with pytest.raises(ValueError, match="pooled_prompt_embeds go together"):
        backend.denoiser(prompt_embeds=pe)


def test_decode_is_differentiable_and_encode_inverts_the_scaling(backend):
    x = x_T(backend).requires_grad_(True)
    images = backend.decode(x)
    images.mean().backward()
    assert images.shape == (1, 3, 32, 32) and x.grad.abs().sum() > 0
    z = backend.vae.encode(images.detach() * 2 - 1).latent_dist.mean
    c = backend.vae.config
    assert torch.allclose(backend.encode(images.detach()), (z - c.shift_factor) * c.scaling_factor)


def test_bad_inputs_name_what_was_expected(backend):
    with pytest.raises(ValueError, match=r"latents must have shape \(B, 4, 32, 32\)"):
        backend.decode(torch.zeros(1, 16, 32, 32))
    with pytest.raises(ValueError, match="width must be a positive multiple of 1"):
        StableDiffusion3Backend(backend.pipe, width=0)
    with pytest.raises(ValueError, match="guidance does not|does not take guidance"):
        backend.denoiser(prompt=PROMPT, guidance=3.5)
