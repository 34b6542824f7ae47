"""StableDiffusionXLBackend against diffusers' StableDiffusionXLPipeline on tiny random components (CPU, offline)."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler

from doodl.backends.sdxl import StableDiffusionXLBackend
from doodl.testing import tiny_pipeline

from family_helpers import capture_calls, cfg_of, vanilla, x_T

PROMPT = "a red cube"


def ddim_pipe(**config):
    pipe = tiny_pipeline("sdxl")
    pipe.scheduler = DDIMScheduler.from_config({**pipe.scheduler.config, **config})
    return pipe


@pytest.fixture(scope="module")
def pipe():
    return ddim_pipe()


@pytest.fixture(scope="module")
def backend(pipe):
    return StableDiffusionXLBackend(pipe)


def test_shapes_and_schedule_come_from_the_configs(backend):
    assert backend.latent_shape == (4, 16, 16) and backend.image_shape == (3, 32, 32)
    ts = [s.t for s in backend.steps(4)]
    ref = DDIMScheduler.from_config(backend.scheduler_config)
    ref.set_timesteps(4)
    assert ts == ref.timesteps.tolist()


@pytest.mark.parametrize("negative", [None, "blue"])
def test_network_output_equals_the_pipelines_unet_call(pipe, backend, negative):
    x = x_T(backend)
    calls, handle = capture_calls(pipe.unet)
    try:
        with torch.no_grad():
            pipe(PROMPT, negative_prompt=negative, latents=x, num_inference_steps=2, guidance_scale=5.0, output_type="latent")
    finally:
        handle.remove()
    first = calls[0]
    t = int(first["args"][1])
    with torch.no_grad():
        ours = backend.denoiser(prompt=PROMPT, negative_prompt=negative, guidance_scale=5.0)(x, t)
    assert (ours - cfg_of(first["out"], 5.0)).abs().max() <= 1e-5


def test_vanilla_sampling_equals_the_pipeline_with_ddim(pipe, backend):
    x = x_T(backend, seed=1)
    with torch.no_grad():
        ref = pipe(PROMPT, latents=x, num_inference_steps=4, guidance_scale=5.0, output_type="latent").images
        ours = vanilla(backend, backend.denoiser(prompt=PROMPT, guidance_scale=5.0), x, 4)
    assert (ours - ref).abs().max() <= 1e-4


@pytest.mark.parametrize("n", [1, 2, 4])
def test_turbo_trailing_spacing_at_one_to_four_steps_without_cfg(n):
    pipe = ddim_pipe(timestep_spacing="trailing")
    backend = StableDiffusionXLBackend(pipe)
    x = x_T(backend, seed=2)
    with torch.no_grad():
        ref = pipe(PROMPT, latents=x, num_inference_steps=n, guidance_scale=0.0, output_type="latent").images
        ours = vanilla(backend, backend.denoiser(prompt=PROMPT, guidance_scale=0.0), x, n)
    assert backend.steps(1)[0].t == 999
    assert (ours - ref).abs().max() <= 1e-4


def test_precomputed_embeddings_give_the_same_output(pipe, backend):
    with torch.no_grad():
        pe, npe, pooled, npooled = pipe.encode_prompt(PROMPT, device="cpu", do_classifier_free_guidance=True,
                                                      negative_prompt="blue")
        x = x_T(backend, batch=2)
        a = backend.denoiser(prompt=PROMPT, negative_prompt="blue")(x, 500)
        b = backend.denoiser(prompt_embeds=pe, pooled_prompt_embeds=pooled, negative_prompt_embeds=npe,
                             negative_pooled_prompt_embeds=npooled)(x, 500)
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="pooled_prompt_embeds"):
        backend.denoiser(prompt_embeds=pe)
    with pytest.raises(ValueError, match=r"prompt_embeds must be a \(P, L, D\) tensor with D = 64"):
        backend.denoiser(prompt_embeds=pe[..., :10], pooled_prompt_embeds=pooled)


def test_decode_encode_shapes_and_gradient(backend):
    x = x_T(backend).requires_grad_(True)
    images = backend.decode(x)
    assert images.shape == (1, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
    images.mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert backend.encode(images.detach()).shape == (1, 4, 16, 16)


def test_float16_keeps_a_force_upcast_vae_in_float32():
    pipe = tiny_pipeline("sdxl")
    pipe.vae.register_to_config(force_upcast=True)
    backend = StableDiffusionXLBackend(pipe, dtype="float16")
    assert backend.unet.dtype == torch.float16 and next(backend.vae.parameters()).dtype == torch.float32
    assert backend.decode(torch.zeros(1, 4, 16, 16)).dtype == torch.float32


def test_bad_inputs_name_what_was_expected(backend):
    with pytest.raises(ValueError, match=r"latents must have shape \(B, 4, 16, 16\)"):
        backend.decode(torch.zeros(1, 4, 8, 8))
    with pytest.raises(ValueError, match="height must be a positive multiple of 2"):
        StableDiffusionXLBackend(backend.pipe, height=31)
    with pytest.raises(ValueError, match="class_label"):
        backend.denoiser(prompt=PROMPT, class_label=3)
    with pytest.raises(ValueError, match="guidance_scale must be a finite number"):
        backend.denoiser(prompt=PROMPT, guidance_scale="big")
    with pytest.raises(ValueError, match=r"images must have shape \(B, 3, 32, 32\)"):
        backend.encode(torch.zeros(1, 3, 16, 16))


def test_a_missing_text_encoder_is_named():
    pipe = tiny_pipeline("sdxl")
    pipe.text_encoder_2 = None
    backend = StableDiffusionXLBackend(pipe)
    with pytest.raises(ValueError, match="needs text_encoder_2"):
        backend.denoiser(prompt=PROMPT)
