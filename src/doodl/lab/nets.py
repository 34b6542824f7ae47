"""Small networks of the lab: an MLP on points with time and class inputs, and noise-aware classifiers.

The paper's App. C.3/C.4 networks (its Fig. S6) were lost with the figures; ours: a sinusoidal embedding of the
time (Vaswani et al. 2017, as in DDPM), added with a learned class embedding to the first hidden layer, then
residual SiLU blocks. The same MLP serves as the eps denoiser (time = t / T) and as the rectified-flow velocity
(time in [0, 1]). The linear classifier follows App. C.3: one linear layer on the point concatenated with the
diffusion step (t / T).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn


def time_embedding(s: Tensor, dim: int) -> Tensor:
    """Sinusoidal features (B, dim) of times s (B,) in [0, 1] (frequencies up to 1000, as for DDPM's steps)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=s.device, dtype=torch.float32) / half)
    ang = 1000.0 * s.float()[:, None] * freqs[None]
    return torch.cat([ang.sin(), ang.cos()], dim=-1)


def fourier_features(x: Tensor, octaves: int) -> Tensor:
    """[x, sin(2^k pi x), cos(2^k pi x)] for k < octaves, per coordinate (Tancik et al. 2020's fix for an MLP's
    bias toward smooth functions; the fractal's thin twigs need the high frequencies)."""
    if octaves == 0:
        return x
    freqs = math.pi * 2.0 ** torch.arange(octaves, device=x.device, dtype=x.dtype)
    ang = (x[..., None] * freqs).flatten(1)
    return torch.cat([x, ang.sin(), ang.cos()], dim=1)


def as_time(t: int | float | Tensor, batch: int, scale: float, device: torch.device) -> Tensor:
    """A time for each row, (batch,) float32: int/float/0-dim/(B,) t divided by `scale`."""
    s = torch.as_tensor(t, device=device, dtype=torch.float32).reshape(-1) / scale
    return s.expand(batch) if s.numel() == 1 else s


class ResBlock(nn.Module):
    """h + Linear(SiLU(Linear(SiLU(h))))."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, h: Tensor) -> Tensor:
        """Residual update."""
        return h + self.net(h)


class PointMLP(nn.Module):
    """out = f(x, s, y): points (B, D), times s in [0, 1] (B,), optional labels (B,) -> (B, D).

    With num_classes set, label `num_classes` is the null label (classifier-free guidance's unconditional
    branch, Ho & Salimans 2022); y=None means the null label.
    """

    def __init__(self, dim: int, num_classes: int | None = None, width: int = 128, blocks: int = 3, temb: int = 64,
                 out_dim: int | None = None, octaves: int = 0) -> None:
        super().__init__()
        self.dim, self.num_classes = dim, num_classes
        self.temb, self.octaves = temb, octaves
        self.inp = nn.Linear(dim * (1 + 2 * octaves), width)
        self.time = nn.Sequential(nn.Linear(temb, width), nn.SiLU(), nn.Linear(width, width))
        self.label = nn.Embedding(num_classes + 1, width) if num_classes is not None else None
        self.blocks = nn.Sequential(*[ResBlock(width) for _ in range(blocks)])
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(width, dim if out_dim is None else out_dim))

    def forward(self, x: Tensor, s: Tensor, y: Tensor | None = None) -> Tensor:
        """Prediction (B, out_dim) in x's dtype."""
        h = self.inp(fourier_features(x.float(), self.octaves)) + self.time(time_embedding(s, self.temb))
        if self.label is not None:
            assert self.num_classes is not None
            labels = torch.full((x.shape[0],), self.num_classes, device=x.device) if y is None else y
            h = h + self.label(labels.long())
        elif y is not None:
            raise ValueError("labels given to an unconditional PointMLP (num_classes=None)")
        return self.out(self.blocks(h)).to(x.dtype)


class EpsModel:
    """eps = model(x, t) from a PointMLP trained on DDPM timesteps; `label` binds a class (None = null/uncond)."""

    def __init__(self, net: PointMLP, num_train_timesteps: int = 1000, label: int | Tensor | None = None) -> None:
        self.net, self.T, self.label = net, num_train_timesteps, label

    def __call__(self, x: Tensor, t: int | Tensor) -> Tensor:
        """Noise prediction at timestep t."""
        y = None if self.label is None else torch.as_tensor(self.label, device=x.device).long().reshape(-1).expand(x.shape[0])
        return self.net(x, as_time(t, x.shape[0], self.T, x.device), y)


class NoiseAwareClassifier(nn.Module):
    """logits = f(x_t, t): 'linear' is Linear([x, t/T]) (paper App. C.3); 'mlp' a PointMLP-style network.

    noise_aware=False ignores t: a classifier of clean data, as DOODL uses off the shelf.
    """

    def __init__(self, dim: int, num_classes: int = 2, kind: Literal["linear", "mlp"] = "linear",
                 num_train_timesteps: int = 1000, noise_aware: bool = True, width: int = 128) -> None:
        super().__init__()
        if kind not in ("linear", "mlp"):
            raise ValueError(f"classifier kind must be 'linear' or 'mlp', got {kind!r}")
        self.kind, self.T, self.noise_aware = kind, num_train_timesteps, noise_aware
        if kind == "linear":
            self.linear = nn.Linear(dim + 1, num_classes)
        else:
            self.body = PointMLP(dim, None, width=width, blocks=2, out_dim=num_classes)
        self.dim = dim

    def forward(self, x: Tensor, t: int | Tensor = 0) -> Tensor:
        """Logits (B, C) for points x (B, D) at timestep t (ignored when noise_aware=False)."""
        flat = x.reshape(x.shape[0], -1).float()
        s = as_time(t if self.noise_aware else 0, x.shape[0], self.T, x.device)
        if self.kind == "linear":
            return self.linear(torch.cat([flat, s[:, None]], dim=1))
        return self.body(flat, s).float()
