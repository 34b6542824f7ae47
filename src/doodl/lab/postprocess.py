"""Flow-matching postprocessing: a rectified flow from generated samples to their nearest real neighbours.

The paper's §3.4, eq. 11 and 12 (lost in the text), rebuilt from its words and from rectified flow (Liu et al.
2023, eq. 1): with x_0 a generated sample and x_1 one of its top-k nearest real neighbours, drawn at random each
time it is used (the paper's choice, after Tong et al. 2024),

    min_v  E_{s ~ U[0, 1]} || (x_1 - x_0) - v(s x_1 + (1 - s) x_0, s) ||^2           (eq. 11)
    dz/ds = v(z, s),  z(0) = generated sample,  output z(1)                            (eq. 12)

Our choice, stated: for class-conditional generation the neighbours are searched among real samples of the
same class and v also sees the class (v(z, s, y)); otherwise a sample drawn into the other class's region
would be pulled toward the wrong class. Solvers: Euler with a fixed number of steps, or torchdiffeq's
adaptive dopri5 (Tong et al. 2024's choice, the paper's App. B).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Literal

import torch
from torch import Tensor, nn

from .neighbors import topk_neighbors
from .train import TrainConfig, fit

log = logging.getLogger(__name__)

Velocity = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class FlowConfig:
    """Postprocessing training; k is the paper's (§4.1), the rest ours."""

    k: int = 20  # top-k nearest real neighbours, one drawn per use (paper: 20)
    train: TrainConfig = TrainConfig(steps=3000, label_dropout=0.0)  # paper: 100k steps at batch 4096

    def __post_init__(self) -> None:
        """Range-check k."""
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive int, got {self.k!r}")


def neighbor_table(generated: Tensor, real: Tensor, k: int, generated_labels: Tensor | None = None,
                   real_labels: Tensor | None = None) -> Tensor:
    """(N, k) indices into `real` of each generated sample's k nearest reals (of its own class when labelled)."""
    if (generated_labels is None) != (real_labels is None):
        raise ValueError("give labels for both generated and real samples, or for neither")
    if generated_labels is None or real_labels is None:
        return topk_neighbors(generated, real, k)[1]
    out = torch.empty(generated.shape[0], k, dtype=torch.long)
    for c in generated_labels.unique().tolist():
        gi = torch.nonzero(generated_labels == c).squeeze(1)
        ri = torch.nonzero(real_labels == c).squeeze(1)
        if ri.numel() < k:
            raise ValueError(f"k ({k}) is larger than the real set of class {c} ({ri.numel()} samples)")
        out[gi] = ri[topk_neighbors(generated[gi], real[ri], k)[1]]
    return out


def train_flow(net: nn.Module, generated: Tensor, real: Tensor, cfg: FlowConfig = FlowConfig(),
               generated_labels: Tensor | None = None, real_labels: Tensor | None = None) -> list[float]:
    """Fit v = net(z, s, y) by eq. 11 on pairs (generated sample, one of its top-k real neighbours)."""
    if generated.shape[1:] != real.shape[1:]:
        raise ValueError(f"generated and real samples differ in shape: {tuple(generated.shape[1:])} vs {tuple(real.shape[1:])}")
    nbrs = neighbor_table(generated, real, cfg.k, generated_labels, real_labels)
    log.info("postprocessing flow: %d generated samples, %d reals, top-%d", generated.shape[0], real.shape[0], cfg.k)
    view = (-1, *([1] * (generated.ndim - 1)))

    def loss_fn(idx: Tensor, g: torch.Generator) -> Tensor:
        x0 = generated[idx]
        pick = torch.randint(0, cfg.k, (idx.shape[0],), generator=g)  # one of the top-k, drawn anew each use
        x1 = real[nbrs[idx, pick]]
        s = torch.rand(idx.shape[0], generator=g)
        zs = s.reshape(view) * x1 + (1 - s.reshape(view)) * x0  # straight path (Liu et al. 2023)
        y = None if generated_labels is None else generated_labels[idx]
        return (net(zs, s, y) - (x1 - x0)).pow(2).mean()

    return fit(net, loss_fn, generated.shape[0], cfg.train, "flow")


def velocity(net: nn.Module, labels: Tensor | None = None) -> Velocity:
    """v(z, s) with the labels bound in; s a float or a 0-dim tensor (what ODE solvers pass)."""

    def v(z: Tensor, s: Tensor | float) -> Tensor:
        st = torch.as_tensor(s, dtype=torch.float32, device=z.device).reshape(-1).expand(z.shape[0])
        return net(z, st, labels)

    return v


def euler(v: Velocity, z: Tensor, steps: int = 20) -> Tensor:
    """Integrate dz/ds = v(z, s) from s = 0 to 1 with `steps` explicit Euler steps."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    h = 1.0 / steps
    for i in range(steps):
        z = z + h * v(z, i * h)
    return z


def dopri5(v: Velocity, z: Tensor, rtol: float = 1e-4, atol: float = 1e-4) -> Tensor:
    """Integrate dz/ds = v(z, s) from 0 to 1 with the adaptive Dormand-Prince 5(4) solver (torchdiffeq)."""
    try:
        from torchdiffeq import odeint
    except ImportError as e:  # pragma: no cover - torchdiffeq is in the [lab] and [test] extras
        raise ImportError("the dopri5 solver needs torchdiffeq: pip install 'doodl[lab]'") from e
    ts = torch.tensor([0.0, 1.0], dtype=z.dtype, device=z.device)
    return odeint(lambda s, y: v(y, s), z, ts, method="dopri5", rtol=rtol, atol=atol)[-1]


Solver = Literal["euler", "dopri5"]


@torch.no_grad()
def postprocess(net: nn.Module, samples: Tensor, labels: Tensor | None = None, solver: Solver = "euler",
                steps: int = 20, batch: int = 4096) -> Tensor:
    """Move samples along the learned flow, z(1) from z(0) = samples (eq. 12), in batches."""
    if solver not in ("euler", "dopri5"):
        raise ValueError(f"solver must be 'euler' or 'dopri5', got {solver!r}")
    net.eval()
    out = []
    for i in range(0, samples.shape[0], batch):
        lab = None if labels is None else labels[i : i + batch]
        v = velocity(net, lab)
        z = samples[i : i + batch]
        out.append(euler(v, z, steps) if solver == "euler" else dopri5(v, z))
    return torch.cat(out)
