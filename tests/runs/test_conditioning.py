"""runs.execute.conditioning: options chosen by what the backend accepts, never dropped silently; runs/ and batch/
never import the CLI."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import torch

from doodl import Conditioning, RunSpec
from doodl.backends import PixelBackend
from doodl.runs.execute import conditioning
from doodl.testing import tiny_sd_pipeline


@pytest.fixture
def cond_backend(toy_backend):
    return PixelBackend(toy_backend.unet, toy_backend.schedule, pad=2, num_classes=10)


def test_class_conditional_model_takes_the_guidance_scale_with_class(cond_backend):
    spec = RunSpec(model="fashion-cond", task="classify-guide", classifier="fashion-guide", class_index=3,
                   guidance_scale=3.0)
    cond = conditioning(spec, cond_backend, 3.0)
    assert cond == {"class_label": 3, "guidance_scale": 3.0}
    model = cond_backend.denoiser(Conditioning(**cond))  # and the backend really guides with it
    assert model(torch.zeros(2, 1, 12, 12), 500).shape == (2, 1, 12, 12)


def test_guidance_scale_is_never_dropped(cond_backend, toy_backend):
    with pytest.raises(ValueError, match="--guidance-scale.*needs --class"):
        conditioning(RunSpec(model="fashion-cond", guides=("brightness",), guidance_scale=3.0), cond_backend, 3.0)
    with pytest.raises(ValueError, match="--guidance-scale.*no classifier-free guidance"):
        conditioning(RunSpec(model="fashion", guides=("brightness",), guidance_scale=3.0), toy_backend, 3.0)
    # the task default (not asked for) leaves the zoo models unconditional, as before
    assert conditioning(RunSpec(model="fashion-cond", guides=("brightness",)), cond_backend, 7.5) == {}


def test_prompt_on_a_model_without_text_is_a_notice_and_negative_prompt_an_error(toy_backend, caplog):
    with caplog.at_level(logging.WARNING, logger="doodl.runs.execute"):
        assert conditioning(RunSpec(model="fashion", prompt="a shoe", guides=("brightness",)), toy_backend, 7.5) == {}
    assert any("takes no text prompt" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="--negative-prompt"):
        conditioning(RunSpec(model="fashion", negative_prompt="blurry", guides=("brightness",)), toy_backend, 7.5)
    with pytest.raises(ValueError, match="does not take prompt"):
        toy_backend.denoiser(Conditioning(prompt="a shoe"))  # the API: an error, never dropped


def test_text_model_gets_prompt_and_cfg():
    from doodl.backends import StableDiffusionBackend

    sd = StableDiffusionBackend.from_pipeline(tiny_sd_pipeline())
    cond = conditioning(RunSpec(model="sd", prompt="a cat", negative_prompt="dog"), sd, 7.5)
    assert cond == {"prompt": "a cat", "negative_prompt": "dog", "guidance_scale": 7.5}


def test_flux_keeps_its_guidance_embedding_default_and_schnell_refuses_guidance():
    from types import SimpleNamespace

    dev = SimpleNamespace(accepts=frozenset({"prompt", "prompt_embeds", "pooled_prompt_embeds", "guidance_scale", "guidance"}),
                          name="FluxBackend (dev)")
    assert conditioning(RunSpec(model="flux", prompt="a cat"), dev, 7.5) == {"prompt": "a cat"}
    assert conditioning(RunSpec(model="flux", prompt="a cat", guidance_scale=2.0), dev, 2.0)["guidance_scale"] == 2.0
    schnell = SimpleNamespace(accepts=frozenset({"prompt", "prompt_embeds", "pooled_prompt_embeds"}), name="FluxBackend")
    with pytest.raises(ValueError, match="--guidance-scale"):
        conditioning(RunSpec(model="flux", prompt="a cat", guidance_scale=2.0), schnell, 2.0)
    with pytest.raises(ValueError, match="--negative-prompt.*no negative prompt"):
        conditioning(RunSpec(model="flux", prompt="a cat", negative_prompt="dog"), schnell, 7.5)


@pytest.mark.parametrize("module", ["doodl.batch.jobs", "doodl.runs.execute", "doodl.runs.spec", "doodl"])
def test_runs_and_batch_do_not_import_the_cli(module):
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith('doodl.cli')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout
