"""StableDiffusionBackend on tiny random SD components: parity with diffusers, gradients, options, bad input."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

import doodl
from doodl import Conditioning
from doodl.backends import StableDiffusionBackend
from doodl.testing import tiny_sd_components, tiny_sd_pipeline


def den(backend, prompt=None, negative_prompt=None, guidance_scale=None, **kw):
    """backend.denoiser with the old positional order (prompt, negative_prompt, guidance_scale)."""
    return backend.denoiser(Conditioning(prompt=prompt, negative_prompt=negative_prompt, guidance_scale=guidance_scale, **kw))


@pytest.fixture
def pipe():
    return tiny_sd_pipeline()


@pytest.fixture
def backend(pipe):
    return StableDiffusionBackend.from_pipeline(pipe)


def noise(b: StableDiffusionBackend, n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn((n, *b.latent_shape), generator=torch.Generator().manual_seed(seed))


def pipeline_embeds(pipe, prompts, negs):
    """(cond, uncond) embeddings computed by the pipeline itself (encode_prompt, or _encode_prompt if older)."""
    with torch.no_grad():
        if hasattr(pipe, "encode_prompt"):
            return pipe.encode_prompt(prompts, torch.device("cpu"), 1, True, negative_prompt=negs)
        both = pipe._encode_prompt(prompts, torch.device("cpu"), 1, True, negative_prompt=negs)
        uncond, cond = both.chunk(2)
        return cond, uncond


def test_schedule_and_shapes_come_from_configs(pipe, backend):
    f = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    s = pipe.unet.config.sample_size
    assert f != 8  # the tiny VAE's factor differs from SD's, so a hard-coded 8 would fail here
    assert backend.vae_scale_factor == f
    assert backend.latent_shape == (4, s, s) and backend.image_shape == (3, s * f, s * f)
    sched = backend.schedule
    assert sched.steps_offset == pipe.scheduler.config.steps_offset
    assert sched.final_alpha_cumprod is None  # set_alpha_to_one=False: the chain ends on alphas_cumprod[0]
    assert sched.alphas_cumprod.dtype == torch.float64
    torch.testing.assert_close(sched.alphas_cumprod, pipe.scheduler.alphas_cumprod.double(), rtol=1e-5, atol=1e-6)
    pipe.scheduler.set_timesteps(5)
    assert [s.t for s in backend.steps(5)] == pipe.scheduler.timesteps.tolist()


def test_eps_matches_pipeline_encode_prompt_and_cfg(pipe, backend):
    prompts, negs, w, t = ["a red cat", "dog"], ["blurry", "x"], 7.5, 501
    x = noise(backend)
    cond, uncond = pipeline_embeds(pipe, prompts, negs)
    with torch.no_grad():
        out = pipe.unet(torch.cat([x, x]), t, encoder_hidden_states=torch.cat([uncond, cond])).sample
        e_u, e_c = out.chunk(2)
        ref = e_u + w * (e_c - e_u)
        got = den(backend, prompts, negs, w)(x, t)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    assert (e_c - e_u).abs().max() > 1e-3  # the prompts matter, so the comparison tests the conditioning


@pytest.mark.parametrize("v_prediction", [False, True])
def test_ddim_sampling_matches_pipeline(v_prediction):
    pipe = tiny_sd_pipeline(v_prediction=v_prediction)
    backend = StableDiffusionBackend.from_pipeline(pipe)
    assert backend.prediction_type == ("v_prediction" if v_prediction else "epsilon")
    xT = noise(backend)
    prompts, negs = ["a cat", "dog"], ["blurry", "x"]
    size = backend.image_shape[1]
    with torch.no_grad():
        ref = pipe(prompts, negative_prompt=negs, num_inference_steps=2, guidance_scale=7.5, height=size,
                   width=size, output_type="latent", latents=xT.clone()).images
        run = lambda p: doodl.ddim_sample(den(backend, p, negs, 7.5), xT, backend.steps(2))  # noqa: E731
        got, other = run(prompts), run(["zzz", "qq"])
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
    assert (other - ref).abs().max() > 1e-2


def test_scale_one_is_conditional_only_in_one_call(backend):
    x, t = noise(backend), 301
    batches = []
    hook = backend.unet.register_forward_pre_hook(lambda m, args: batches.append(args[0].shape[0]))
    with torch.no_grad():
        cond = den(backend, "a cat", guidance_scale=1.0)(x, t)
        guided = den(backend, "a cat", guidance_scale=4.0)(x, t)
        ref = backend.unet(x, t, encoder_hidden_states=backend.embed_prompt("a cat").expand(2, -1, -1)).sample
    hook.remove()
    assert batches == [2, 4, 2]  # scale 1: one branch; scale 4: both branches in a single batched call
    torch.testing.assert_close(cond, ref)
    assert not torch.allclose(guided, cond)


def test_prompt_lists_broadcast_and_pair_with_images(backend):
    x, t = noise(backend), 401
    with torch.no_grad():
        one = den(backend, "a cat")(x, t)
        same = den(backend, ["a cat", "a cat"])(x, t)
        mixed = den(backend, ["a cat", "dog"], ["", "blurry"])(x, t)
        dog = den(backend, "dog", "blurry")(x[1:], t)
    torch.testing.assert_close(one, same)
    torch.testing.assert_close(mixed[1:], dog, rtol=1e-5, atol=1e-5)


def test_prompt_embeddings_are_cached(backend):
    calls = []
    hook = backend.text_encoder.register_forward_pre_hook(lambda m, args: calls.append(1))
    for _ in range(3):
        den(backend, "a cat", "blurry")
    hook.remove()
    assert len(calls) == 2  # prompt and negative prompt, each encoded once


def test_float64_backend_returns_eps_in_input_dtype():
    b32 = StableDiffusionBackend.from_pipeline(tiny_sd_pipeline())
    b64 = StableDiffusionBackend.from_pipeline(tiny_sd_pipeline(), dtype="float64")
    assert b64.dtype == torch.float64 and next(b64.unet.parameters()).dtype == torch.float64
    x = noise(b32)
    with torch.no_grad():
        e32, e64 = den(b32, "a cat")(x, 501), den(b64, "a cat")(x, 501)
        img = b64.decode(x)
    assert e64.dtype == torch.float32 and img.dtype == torch.float32
    torch.testing.assert_close(e64, e32, rtol=1e-4, atol=1e-4)


def _edict_grads(backend, model, grad, params=()):
    base = noise(backend, 1, seed=3)
    xT, yT = base.clone().requires_grad_(), base.clone().requires_grad_()
    x0, y0 = doodl.edict_sample(model, xT, yT, backend.steps(2), grad=grad, params=params)
    loss = backend.decode(x0).mean() + backend.decode(y0).mean()
    return torch.autograd.grad(loss, [xT, yT, *params])


def test_gradient_reaches_xT_through_reversible_edict(backend):
    model = den(backend, "a cat", guidance_scale=3.0)
    rev = _edict_grads(backend, model, "reversible")
    naive = _edict_grads(backend, model, "naive")
    for g_rev, g_naive in zip(rev, naive):
        assert torch.isfinite(g_rev).all() and g_rev.abs().sum() > 0
        torch.testing.assert_close(g_rev, g_naive, rtol=1e-3, atol=1e-6)


def test_prompt_embeds_receive_gradient(backend):
    pe = backend.embed_prompt("a cat").clone().requires_grad_()
    model = den(backend, prompt_embeds=pe, guidance_scale=2.0)
    g_rev = _edict_grads(backend, model, "reversible", params=(pe,))[-1]
    g_naive = _edict_grads(backend, model, "naive", params=(pe,))[-1]
    assert g_rev.abs().sum() > 0
    torch.testing.assert_close(g_rev, g_naive, rtol=1e-3, atol=1e-7)


def test_optimize_lowers_a_toy_loss(backend):
    result = doodl.optimize(backend, lambda im: im.mean(dim=(1, 2, 3)), prompt="a cat", num_inference_steps=2,
                            opt_steps=3, optimizer="adam", lr=0.1, progress=False)
    losses = [h.mean_loss for h in result.history]
    assert losses[-1] < losses[0]
    assert result.images.shape == (1, *backend.image_shape)


def test_decode_and_encode(backend):
    z = noise(backend)
    with torch.no_grad():
        img = backend.decode(z)
        enc, again = backend.encode(img), backend.encode(img)
        ref = backend.vae.encode(img * 2 - 1).latent_dist.mean * backend.vae.config.scaling_factor
    assert img.shape == (2, *backend.image_shape) and img.dtype == torch.float32
    assert img.min() >= 0 and img.max() <= 1
    assert enc.shape == z.shape and torch.equal(enc, again)  # posterior mean: deterministic
    torch.testing.assert_close(enc, ref)


def test_encode_seeded_sample_matches_the_vae_posterior_sample(backend):
    img = backend.decode(noise(backend, 1))
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    with torch.no_grad():
        mean, sample, again = backend.encode(img), backend.encode(img, generator=g()), backend.encode(img, generator=g())
        ref = backend.vae.encode(img * 2 - 1).latent_dist.sample(generator=g()) * backend.vae.config.scaling_factor
        other = backend.encode(img, generator=torch.Generator().manual_seed(4))
    assert torch.equal(sample, again) and not torch.equal(sample, other)  # seeded: reproducible, seed matters
    assert (sample - mean).abs().max() > 1e-4
    torch.testing.assert_close(sample, ref)  # what the EDICT code does: latent_dist.sample(generator)
    with pytest.raises(ValueError, match="generator"):
        backend.encode(img, generator=3)


def test_memory_options_keep_the_results():
    plain = StableDiffusionBackend.from_pipeline(tiny_sd_pipeline())
    lean = StableDiffusionBackend.from_pipeline(tiny_sd_pipeline(), attention_slicing=1, vae_slicing=True,
                                                gradient_checkpointing=True)
    x = noise(plain)
    with torch.no_grad():
        torch.testing.assert_close(den(lean, "a cat")(x, 501), den(plain, "a cat")(x, 501), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(lean.decode(x), plain.decode(x), rtol=1e-5, atol=1e-5)
    g_lean = _edict_grads(lean, den(lean, "a cat"), "reversible")[0]
    g_plain = _edict_grads(plain, den(plain, "a cat"), "reversible")[0]
    torch.testing.assert_close(g_lean, g_plain, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prompt": []}, "prompt must not be an empty list"),
        ({"prompt": 3}, "prompt must be a string"),
        ({"prompt": ["a", 2]}, "prompt must be a string"),
        ({"negative_prompt": []}, "negative_prompt must not be an empty list"),
        ({"guidance_scale": "7"}, "guidance_scale"),
        ({"guidance_scale": float("nan")}, "guidance_scale"),
        ({"class_label": 1}, "StableDiffusionBackend does not take class_label"),
        ({"prompt_embeds": torch.zeros(1, 77, 5)}, "prompt_embeds"),
    ],
)
def test_bad_conditioning(backend, kwargs, match):
    with pytest.raises(ValueError, match=match):
        den(backend, **kwargs)


def test_prompt_count_must_match_batch(backend):
    model = den(backend, ["a", "b", "c"])
    with pytest.raises(ValueError, match="prompt has 3 entries"):
        model(noise(backend, 2), 501)


@pytest.mark.parametrize("images", [torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16) * 3, torch.rand(3, 16, 16), "x"])
def test_encode_rejects_non_images(backend, images):
    with pytest.raises(ValueError, match="images"):
        backend.encode(images)


def test_decode_rejects_wrong_latents(backend):
    with pytest.raises(ValueError, match="latents"):
        backend.decode(torch.zeros(1, 3, 8, 8))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"height": 15}, "height"),
        ({"width": 0}, "width"),
        ({"dtype": "float8"}, "dtype"),
        ({"scheduler_config": {"prediction_type": "sample"}}, "prediction_type"),
        ({"scheduler_config": {"beta_schedule": "squaredcos_cap_v2"}}, "beta_schedule"),
        ({"scheduler_config": {"rescale_betas_zero_snr": True}}, "zero"),
    ],
)
def test_bad_construction(kwargs, match):
    parts = tiny_sd_components()
    parts["scheduler_config"] = kwargs.pop("scheduler_config", dict(parts.pop("scheduler").config))
    parts.pop("scheduler", None)
    with pytest.raises(ValueError, match=match):
        StableDiffusionBackend(**parts, **kwargs)


def test_sdxl_pipelines_are_refused_with_a_reason():
    fake = SimpleNamespace(unet=None, vae=None, text_encoder=None, tokenizer=None, scheduler=None, text_encoder_2=object())
    with pytest.raises(ValueError, match="SDXL"):
        StableDiffusionBackend.from_pipeline(fake)


@pytest.mark.gpu
def test_float16_on_cuda_matches_float32():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    b32 = StableDiffusionBackend.from_pipeline(tiny_sd_pipeline(), device="cuda")
    b16 = StableDiffusionBackend.from_pipeline(tiny_sd_pipeline(), device="cuda", dtype=torch.float16)
    x = noise(b32).cuda()
    with torch.no_grad():
        e16, e32 = den(b16, "a cat")(x, 501), den(b32, "a cat")(x, 501)
    assert e16.dtype == torch.float32
    torch.testing.assert_close(e16, e32, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("spacing", ["trailing", "linspace", "leading"])
def test_timestep_spacing_is_honoured_like_ddim_scheduler(spacing):
    """The scheduler config's timestep_spacing gives the same chain as diffusers' DDIMScheduler loop."""
    from diffusers import DDIMScheduler

    pipe = tiny_sd_pipeline()
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config, timestep_spacing=spacing)
    backend = StableDiffusionBackend.from_pipeline(pipe)
    assert backend.schedule.timestep_spacing == spacing
    model = den(backend, "a cat", guidance_scale=1.0)
    for n in (3, 7):
        pipe.scheduler.set_timesteps(n)
        assert [s.t for s in backend.steps(n)] == pipe.scheduler.timesteps.tolist()
    xT = noise(backend, 1, seed=5)
    x = xT
    with torch.no_grad():
        for t in pipe.scheduler.timesteps:
            x = pipe.scheduler.step(model(x, int(t)), t, x).prev_sample
        ours = doodl.ddim_sample(model, xT, backend.steps(7))
    torch.testing.assert_close(ours, x, rtol=1e-5, atol=1e-5)


def test_conditioning_it_cannot_use_is_named():
    backend = StableDiffusionBackend.from_pipeline(tiny_sd_pipeline())
    with pytest.raises(ValueError, match="does not take guidance, pooled_prompt_embeds"):
        backend.denoiser(Conditioning(guidance=3.5, pooled_prompt_embeds=torch.zeros(1, 8)))
    with pytest.raises(ValueError, match="prompt or prompt_embeds"):
        den(backend, "a cat", prompt_embeds=backend.embed_prompt("a cat"))
    with pytest.raises(ValueError, match="unknown conditioning option"):
        doodl.optimize(backend, lambda im: im.mean(dim=(1, 2, 3)), prompt="a", guidance=2.0, num_inference_steps=1,
                       opt_steps=0, progress=False, class_labl=1)
