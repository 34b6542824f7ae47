"""DOODL on SDXL, SD3 and Flux (tiny random pipelines): doodl.sample against diffusers, EDICT exactness,
gradient modes against plain autograd, doodl.optimize and `doodl generate --model FOLDER`."""

from __future__ import annotations

import json

import pytest
import torch
from diffusers import DDIMScheduler

import doodl
from doodl.backends.flux import pack, unpack
from doodl.cli import main
from doodl.samplers import edict_invert, edict_sample
from doodl.testing import save_tiny_pipeline, tiny_pipeline
from doodl.testing.memory import LiveSaved, weight_storages

PROMPT = "a red cube"
KINDS = ["sdxl", "sd3", "flux"]
SIZE = {"flux": {"height": 32, "width": 32}}
GUIDANCE = {"sdxl": 5.0, "sd3": 4.5, "flux": 3.5}


def pipe_for(kind: str):
    pipe = tiny_pipeline(kind)
    if kind == "sdxl":  # the backend samples SDXL with DDIM from its scheduler config
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    return pipe


def backend_for(kind: str, dtype=torch.float32):
    return doodl.load_backend(pipe_for(kind), dtype=dtype, **SIZE.get(kind, {}))


@pytest.mark.parametrize("kind", KINDS)
def test_vanilla_sample_equals_the_pipeline_from_the_same_xT(kind):
    pipe = pipe_for(kind)
    backend = doodl.load_backend(pipe, **SIZE.get(kind, {}))
    r = doodl.sample(backend, seed=0, num_inference_steps=4, method="vanilla", prompt=PROMPT,
                     guidance_scale=GUIDANCE[kind])
    assert r.latents.shape == (1, *backend.latent_shape)  # the unpacked layout, also for Flux
    latents = pack(r.latents) if kind == "flux" else r.latents
    with torch.no_grad():
        ref = pipe(PROMPT, latents=latents, num_inference_steps=4, guidance_scale=GUIDANCE[kind], output_type="pt",
                   **SIZE.get(kind, {})).images
    assert (r.images - ref).abs().max() <= 1e-4


@pytest.mark.parametrize("kind", KINDS)
def test_edict_round_trip_is_exact_in_float64_over_28_steps(kind):
    backend = backend_for(kind, torch.float64)
    model = backend.denoiser(doodl.Conditioning(prompt=PROMPT))
    xT = backend.noise(1, torch.Generator().manual_seed(0), torch.float64)
    steps = backend.steps(28)
    x0, y0 = edict_sample(model, xT, xT.clone(), steps, grad="none")
    xr, yr = edict_invert(model, x0, y0, steps)
    assert max((xr - xT).abs().max().item(), (yr - xT).abs().max().item()) < 1e-9


@pytest.mark.parametrize("kind", KINDS)
def test_reversible_and_checkpoint_gradients_equal_naive_autograd(kind):
    backend = backend_for(kind, torch.float64)
    model = backend.denoiser(doodl.Conditioning(prompt=PROMPT))
    xT = backend.noise(1, torch.Generator().manual_seed(1), torch.float64)
    target = torch.rand(1, *backend.image_shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    grads = {}
    for mode in ("naive", "reversible", "checkpoint"):
        x = xT.clone().requires_grad_(True)
        y = xT.clone().requires_grad_(True)
        x0, y0 = edict_sample(model, x, y, backend.steps(3), grad=mode)
        loss = ((backend.decode(x0).double() - target) ** 2).mean() + ((backend.decode(y0).double() - target) ** 2).mean()
        grads[mode] = torch.cat([g.flatten() for g in torch.autograd.grad(loss, [x, y])])
    ref = grads["naive"]
    assert ref.norm() > 0
    for mode in ("reversible", "checkpoint"):
        assert ((grads[mode] - ref).norm() / ref.norm()).item() < 1e-8, mode


@pytest.mark.parametrize("kind", KINDS)
def test_reversible_memory_is_flat_in_T_while_naive_grows(kind):
    # peak bytes autograd keeps during forward + backward (network weights excluded), at T = 4 and T = 28
    backend = backend_for(kind)
    model = backend.denoiser(doodl.Conditioning(prompt=PROMPT))
    xT = backend.noise(1, torch.Generator().manual_seed(3), torch.float64)
    weights = set().union(*(weight_storages(m) for m in backend.__dict__.values() if isinstance(m, torch.nn.Module)))

    def peak(T: int, mode: str) -> int:
        def fn():
            x = xT.clone().requires_grad_(True)
            x0, y0 = edict_sample(model, x, x, backend.steps(T), grad=mode, model_dtype=backend.dtype)
            torch.autograd.grad(x0.square().mean() + y0.square().mean(), x)
        return LiveSaved(weights).measure(fn)

    rev4, rev28 = peak(4, "reversible"), peak(28, "reversible")
    assert rev4 > 0 and abs(rev28 - rev4) <= 0.1 * rev4  # constant in T
    naive4, naive28 = peak(4, "naive"), peak(28, "naive")
    assert naive28 > 4 * naive4 and naive28 > 3 * rev28


@pytest.mark.parametrize("kind", KINDS)
def test_optimize_lowers_a_simple_loss(kind):
    backend = backend_for(kind)
    dark = lambda images: images.mean(dim=(1, 2, 3))  # noqa: E731
    # Adam: the paper's clipped momentum (per-element steps <= 1e-3) barely moves a tiny random model in 3 steps
    res = doodl.optimize(backend, dark, seed=0, num_inference_steps=4, opt_steps=3, prompt=PROMPT, progress=False,
                         optimizer="adam", lr=0.05)
    assert res.latents.shape == (1, *backend.latent_shape)
    assert res.loss.item() < dark(res.initial_images).item()


def test_flux_schnell_refuses_guidance_scale_through_the_api():
    backend = doodl.load_backend(tiny_pipeline("flux-schnell"), height=32, width=32)
    with pytest.raises(ValueError, match="guidance_scale"):
        doodl.sample(backend, seed=0, num_inference_steps=2, prompt=PROMPT, guidance_scale=3.5)


@pytest.mark.parametrize("kind", KINDS)
def test_cli_generate_with_a_pipeline_folder_writes_its_outputs(kind, tmp_path):
    folder = save_tiny_pipeline(kind, tmp_path / kind)
    out = tmp_path / "out"
    size = ["--height", "32", "--width", "32"] if kind == "flux" else []
    code = main(["generate", PROMPT, "--model", str(folder), "--guide", "brightness", "--steps", "2",
                 "--opt-steps", "2", "--device", "cpu", "--quiet", "--out", str(out), *size])
    assert code == 0
    for name in ("seed-0.png", "run.json", "loss.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "run.json").read_text())["seeds"][0]["seed"] == 0
