"""Guided denoisers for the lab's point models and DDIM sampling that keeps the whole trajectory.

Methods, each a model wrapper on the project's samplers (eps = model(x, t), x of any shape (B, ...)):
  "uncond": the unconditional net;  "cond": the conditional net at its label (the left side of the paper's eq. 6);
  "cg": classifier guidance at scale s on the unconditional net (Dhariwal & Nichol 2021; paper eq. 9);
  "cfg": eps_u + w (eps_c - eps_u) with one net trained with label dropout (Ho & Salimans 2022; paper eq. 10).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch
from torch import Tensor, nn

from ..guidance.cfg import cfg
from ..guidance.classifier import check_scale, classifier_guidance
from ..samplers.common import Denoiser
from ..samplers.ddim import ddim_sample
from ..schedules import VPSchedule
from .nets import EpsModel

Method = Literal["uncond", "cond", "cg", "cfg"]
METHODS = ("uncond", "cond", "cg", "cfg")


@dataclass
class PointModels:
    """The trained pieces one lab run guides with."""

    uncond: nn.Module  # PointMLP, num_classes=None
    cond: nn.Module  # PointMLP with a null label (label dropout)
    classifier: Callable[[Tensor, int | Tensor], Tensor]  # noise-aware logits (B, C)
    alphas_cumprod: Tensor  # the training schedule (the lab trains these nets itself)
    num_train_timesteps: int = 1000

    @property
    def schedule(self) -> VPSchedule:
        """The nets' VPSchedule (DDIM leading spacing, chain ending on alpha_bar = 1)."""
        return VPSchedule(self.alphas_cumprod)


def guided_denoiser(models: PointModels, method: Method, label: int | Tensor | None, scale: float = 1.0,
                    num_steps: int = 50) -> Denoiser:
    """eps = model(x, t) for one method at one scale toward `label` (ignored by 'uncond'); 'cg' is built for the
    num_steps chain of sample_paths."""
    T = models.num_train_timesteps
    if method == "uncond":
        return EpsModel(models.uncond, T)
    if label is None:
        raise ValueError(f"method {method!r} needs a label")
    if method == "cond":
        return EpsModel(models.cond, T, label)
    s = check_scale(scale)
    if method == "cg":
        return classifier_guidance(EpsModel(models.uncond, T), models.classifier, models.schedule.steps(num_steps), s, label)
    if method == "cfg":
        return cfg(EpsModel(models.cond, T, label), EpsModel(models.cond, T, None), s)
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


@dataclass
class Trajectories:
    """DDIM paths of a batch of points: path[0] is x_T, path[-1] the sample x_0."""

    path: Tensor  # (S + 1, N, D)
    timesteps: list[int]  # the S timesteps, noisiest first

    @property
    def final(self) -> Tensor:
        """The samples x_0 (N, D)."""
        return self.path[-1]


def sample_paths(model: Denoiser, xT: Tensor, schedule: VPSchedule, num_steps: int = 50) -> Trajectories:
    """DDIM (eta = 0, Song et al. 2021) from xT over schedule.steps(num_steps), keeping every intermediate x."""
    steps = schedule.steps(num_steps)
    path = [xT.detach().clone()]
    with torch.no_grad():
        ddim_sample(model, xT, steps, callback=lambda d: path.append(d["x"].detach().clone()))
    return Trajectories(torch.stack(path), [int(s.t) for s in steps])


def class_noise(n: int, dim: int, seed: int) -> Tensor:
    """x_T ~ N(0, I), (n, dim), from its own CPU generator."""
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(int(seed)))


def sample_classes(models: PointModels, method: Method, scale: float, n_per_class: int, dim: int, seed: int,
                   num_steps: int = 50, num_classes: int = 2) -> tuple[Trajectories, Tensor]:
    """n points per class with one method and scale; returns the paths (classes stacked) and the labels."""
    paths, labels = [], []
    for c in range(num_classes):
        xT = class_noise(n_per_class, dim, seed * 1009 + c)
        tr = sample_paths(guided_denoiser(models, method, c, scale, num_steps), xT, models.schedule, num_steps)
        paths.append(tr.path)
        labels.append(torch.full((n_per_class,), c, dtype=torch.long))
    return Trajectories(torch.cat(paths, dim=1), tr.timesteps), torch.cat(labels)
