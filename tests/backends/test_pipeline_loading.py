"""save_tiny_pipeline folders load offline with diffusers and doodl.load_backend; dispatch and its errors."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import doodl
from doodl.backends.flux import FluxBackend
from doodl.backends.sd import StableDiffusionBackend
from doodl.backends.sd3 import StableDiffusion3Backend
from doodl.backends.sdxl import StableDiffusionXLBackend
from doodl.testing import save_tiny_pipeline, tiny_pipeline

CLASSES = {"sd": StableDiffusionBackend, "sdxl": StableDiffusionXLBackend, "sd3": StableDiffusion3Backend,
           "flux": FluxBackend, "flux-schnell": FluxBackend}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {k: save_tiny_pipeline(k, root / k) for k in CLASSES}


@pytest.mark.parametrize("kind", list(CLASSES))
def test_saved_folders_load_offline_with_diffusers_and_doodl(folders, kind):
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(folders[kind])
    assert type(pipe).__name__ == json.loads((folders[kind] / "model_index.json").read_text())["_class_name"]
    backend = doodl.load_backend(folders[kind])
    assert type(backend) is CLASSES[kind]
    assert backend.image_shape[1:] == ((16, 16) if kind == "sd" else (32, 32))  # the pipeline's default size
    x = backend.noise(1, torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = backend.denoiser(doodl.Conditioning(prompt="a red cube"))(x, backend.steps(2)[0].t)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = (tiny_pipeline("sd3", seed=s).transformer for s in (0, 0, 1))
    pa, pb, pc = (next(m.parameters()) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_a_built_pipeline_dispatches_on_its_class():
    assert type(doodl.load_backend(tiny_pipeline("sd3"))) is StableDiffusion3Backend
    assert type(doodl.load_backend(tiny_pipeline("sdxl"), dtype="float64")) is StableDiffusionXLBackend


def test_dtype_and_options_reach_the_backend(folders):
    b = doodl.load_backend(str(folders["sd3"]), dtype="float64", max_sequence_length=16)
    assert b.dtype == torch.float64 and b.transformer.dtype == torch.float64 and b.max_sequence_length == 16
    with pytest.raises(ValueError, match="unknown option.*'guidance_rescale'"):
        doodl.load_backend(str(folders["sd3"]), guidance_rescale=0.7)


def test_an_unsupported_pipeline_class_names_the_supported_ones(folders, tmp_path):
    folder = shutil.copytree(folders["sd3"], tmp_path / "other")
    index = json.loads((folder / "model_index.json").read_text())
    index["_class_name"] = "KandinskyPipeline"
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="KandinskyPipeline.*supported pipelines: StableDiffusionPipeline, "
                                         "StableDiffusionXLPipeline, StableDiffusion3Pipeline, FluxPipeline"):
        doodl.load_backend(str(folder))
    with pytest.raises(ValueError, match="built pipeline"):
        doodl.load_backend(torch.nn.Linear(1, 1))


def test_a_missing_component_folder_is_named(folders, tmp_path):
    folder = shutil.copytree(folders["flux"], tmp_path / "broken")
    shutil.rmtree(folder / "text_encoder_2")
    with pytest.raises(FileNotFoundError, match="text_encoder_2/"):
        doodl.load_backend(str(folder))


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of sd, sdxl, sd3, flux"):
        save_tiny_pipeline("kandinsky", "unused")
