"""DOODL on points: doodl.optimize through EDICT with a clean-data classifier's cross-entropy as the loss.

For points the "latents" and the "images" are the same (B, D) coordinates: VectorBackend decodes with the
identity, so the Backend contract's "images in [0, 1]" reads here as "points in data space". The optimiser's
clip and step sizes are set for a 2-D latent (the paper's 1e-3 clip is tuned for 4x64x64 SD latents).
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..backends.base import Backend
from ..optimizer.config import DoodlConfig
from ..optimizer.loop import optimize
from ..optimizer.result import DoodlResult
from ..samplers.common import Denoiser
from ..conditioning import Conditioning
from ..samplers.chain import edict_sample
from ..schedules import VPSchedule
from .nets import EpsModel
from .sampling import Trajectories


class VectorBackend(Backend):
    """A PointMLP eps-model on (B, D) points as a doodl Backend (latent_shape = image_shape = (D,))."""

    def __init__(self, net: nn.Module, alphas_cumprod: Tensor, dim: int, num_train_timesteps: int = 1000) -> None:
        self.net = net.eval().requires_grad_(False)
        self.schedule = VPSchedule(alphas_cumprod)
        self.accepts = frozenset({"class_label"})
        self.latent_shape = (dim,)  # type: ignore[assignment]
        self.image_shape = (dim,)  # type: ignore[assignment]
        self.T = num_train_timesteps

    def denoiser(self, cond: Conditioning | None = None, **options: Any) -> Denoiser:
        """eps = model(x, t); class_label only for a conditional net (None = unconditional / null label)."""
        cond = self.conditioning(cond, options)
        return EpsModel(self.net, self.T, cond.class_label)

    def decode(self, latents: Tensor, *, range_pull: float = 0.0) -> Tensor:
        """Identity: points are their own 'images' (no range, so range_pull does nothing)."""
        return latents

    def encode(self, images: Tensor) -> Tensor:
        """Identity."""
        return images


def classifier_loss(classifier: nn.Module, target: int):
    """loss(points) = cross-entropy of the clean classifier toward `target`, one value per point."""

    def loss(points: Tensor) -> Tensor:
        logits = classifier(points, 0)
        return F.cross_entropy(logits.float(), torch.full((points.shape[0],), target, device=points.device), reduction="none")

    return loss


# EDICT's chain for the lab's point denoisers (DDPM linear betas): T and p chosen with
# doodl.samplers.stability.chain_report on the trained fractal / 1-D denoisers, 64 seeds (BENCHMARKS.md §6). At
# T = 25 the paper's p = 0.93 drifts (mean |x0 - y0| 0.145 / 0.104, worst seed 0.73 on the fractal); p = 0.8 keeps
# the pair together (0.0009 / 0.0002) with an exact round trip (2e-13); p = 0.7 would start to lose the round
# trip at T = 50 (2e-3). The zoo's pixel DDPM on the same schedule uses p = 0.8 too (optimizer.defaults "vp-linear").
POINT_EDICT_STEPS = 25  # T
# DOODL knobs for 2-D points (ours, measured on the fractal): bigger clip and step than the paper's image values.
POINT_DOODL = DoodlConfig(lr=0.5, grad_clip=0.05, momentum=0.9, perturb_std=1e-3, renormalize=True, mix=0.8)


@dataclass
class DoodlPoints:
    """DOODL's outcome for one class: the optimiser's result and the EDICT path from the optimised noise."""

    result: DoodlResult
    paths: Trajectories  # EDICT x-chain from the optimised x_T
    initial: Tensor  # (N, D) samples of the initial draw (plain EDICT sampling)


def run_doodl_points(backend: VectorBackend, classifier: nn.Module, target: int, seeds: list[int],
                     num_steps: int = POINT_EDICT_STEPS, opt_steps: int = 20, config: DoodlConfig = POINT_DOODL) -> DoodlPoints:
    """Optimise x_T of each seed so the EDICT sample lands in `target`'s region of the clean classifier."""
    res = optimize(backend, classifier_loss(classifier, target), seed=seeds, num_inference_steps=num_steps,
                   opt_steps=opt_steps, config=config, progress=False)
    steps = backend.steps(num_steps)
    path = [res.latents.clone()]
    edict_sample(backend.denoiser(Conditioning()), res.latents, res.latents.clone(), steps, config.mix, "none",
                 leapfrog=config.leapfrog, callback=lambda d: path.append(d["x"].detach().clone()))
    return DoodlPoints(res, Trajectories(torch.stack(path).float(), [int(s.t) for s in steps]), res.initial_images)  # float64 coupling, float32 paths
