"""Training loops of the lab: eps denoisers (DDPM eq. 14, with label dropout for CFG) and noise-aware classifiers.

Both draw t uniformly from the 1000 training steps and corrupt clean data with
x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps (DDPM eq. 4). Optimiser: AdamW as in the paper's App. C,
with a cosine decay of the learning rate (ours, to converge in a few thousand CPU steps).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """One training run; defaults are our measurements for the 2-D fractal on a 2-core CPU."""

    steps: int = 4000  # paper: 100k at batch 4096 (GPU); 4k at 512 fits our CPU budget
    batch: int = 512  # paper: 4096
    lr: float = 2e-3  # paper's value lost; ours
    weight_decay: float = 0.0  # AdamW's decoupled decay; none needed at this size
    label_dropout: float = 0.1  # probability of the null label (Ho & Salimans 2022 use 0.1 to 0.2)
    seed: int = 0  # minibatch and noise draws

    def __post_init__(self) -> None:
        """Range-check; errors name the field."""
        for name in ("steps", "batch"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not 0 <= self.label_dropout < 1:
            raise ValueError(f"label_dropout must lie in [0, 1), got {self.label_dropout!r}")


def fit(net: nn.Module, loss_fn: Callable[[Tensor, torch.Generator], Tensor], n: int, cfg: TrainConfig,
        name: str = "model") -> list[float]:
    """Minimise loss_fn(batch indices, generator) over cfg.steps minibatches of a data set of size n."""
    g = torch.Generator().manual_seed(cfg.seed)
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / cfg.steps)))
    losses: list[float] = []
    for i in range(cfg.steps):
        idx = torch.randint(0, n, (min(cfg.batch, n),), generator=g)
        loss = loss_fn(idx, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if (i + 1) % max(1, cfg.steps // 4) == 0:
            log.info("%s step %d/%d loss %.4f", name, i + 1, cfg.steps, sum(losses[-100:]) / len(losses[-100:]))
    net.eval()
    return losses


def noisy(x0: Tensor, alphas_cumprod: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """(x_t, t, eps): t uniform over the schedule, x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps (DDPM eq. 4)."""
    t = torch.randint(0, alphas_cumprod.numel(), (x0.shape[0],), generator=g)
    eps = torch.randn(x0.shape, generator=g)
    a = alphas_cumprod[t].float().reshape(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * eps, t, eps


def train_denoiser(net: nn.Module, x: Tensor, y: Tensor | None, alphas_cumprod: Tensor,
                   cfg: TrainConfig = TrainConfig()) -> list[float]:
    """||eps - net(x_t, t/T, y)||^2 (DDPM eq. 14); y=None trains an unconditional net, else labels are
    replaced by the null label with probability cfg.label_dropout (classifier-free guidance training)."""
    T = alphas_cumprod.numel()
    num_classes = getattr(net, "num_classes", None)
    if y is not None and num_classes is None:
        raise ValueError("labels given but the network is unconditional")

    def loss_fn(idx: Tensor, g: torch.Generator) -> Tensor:
        xt, t, eps = noisy(x[idx], alphas_cumprod, g)
        labels = None
        if y is not None:
            drop = torch.rand(idx.shape[0], generator=g) < cfg.label_dropout
            labels = torch.where(drop, torch.full_like(y[idx], num_classes), y[idx])
        return F.mse_loss(net(xt, t.float() / T, labels), eps)

    return fit(net, loss_fn, x.shape[0], cfg, "denoiser")


def train_classifier(clf: nn.Module, x: Tensor, y: Tensor, alphas_cumprod: Tensor | None,
                     cfg: TrainConfig = TrainConfig()) -> list[float]:
    """Cross-entropy of clf(x_t, t) on labels y, t uniform (noise-aware, Dhariwal & Nichol §4.1), or of clf(x, 0)
    on clean data when alphas_cumprod is None."""

    def loss_fn(idx: Tensor, g: torch.Generator) -> Tensor:
        if alphas_cumprod is None:
            return F.cross_entropy(clf(x[idx], 0), y[idx])
        xt, t, _ = noisy(x[idx], alphas_cumprod, g)
        return F.cross_entropy(clf(xt, t), y[idx])

    return fit(clf, loss_fn, x.shape[0], cfg, "classifier")


@torch.no_grad()
def accuracy(clf: nn.Module, x: Tensor, y: Tensor, t: int = 0) -> float:
    """Fraction of points whose argmax logit at timestep t (on clean x) equals the label."""
    return float((clf(x, t).argmax(dim=1) == y).float().mean())
