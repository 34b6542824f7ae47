"""A small class-conditional UNet for the image lab's postprocessing flow: v = net(z, s, y).

The paper (App. C.5) uses guided-diffusion's UNet for the flow; on a CPU that costs seconds per step, so ours is
a plain two-level UNet (Ronneberger et al. 2015) with residual blocks, GroupNorm and the time and class
embeddings added per block (as in DDPM's UNet), no attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .nets import time_embedding


class ResBlock2d(nn.Module):
    """x + conv(SiLU(GN(conv(SiLU(GN(x))) + emb)))."""

    def __init__(self, channels: int, emb: int, groups: int = 8) -> None:
        super().__init__()
        g = min(groups, channels)
        self.n1, self.c1 = nn.GroupNorm(g, channels), nn.Conv2d(channels, channels, 3, padding=1)
        self.e = nn.Linear(emb, channels)
        self.n2, self.c2 = nn.GroupNorm(g, channels), nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        """Residual update with the embedding added after the first conv."""
        h = self.c1(F.silu(self.n1(x))) + self.e(emb)[:, :, None, None]
        return x + self.c2(F.silu(self.n2(h)))


class SmallUNet(nn.Module):
    """Two resolutions (H and H/2) plus a bottleneck at H/4; widths (c, 2c, 2c); H must be divisible by 4."""

    def __init__(self, channels: int = 1, num_classes: int | None = 10, width: int = 32, temb: int = 64) -> None:
        super().__init__()
        c, e = width, 4 * width
        self.temb = temb
        self.time = nn.Sequential(nn.Linear(temb, e), nn.SiLU(), nn.Linear(e, e))
        self.label = nn.Embedding(num_classes, e) if num_classes is not None else None
        self.inp = nn.Conv2d(channels, c, 3, padding=1)
        self.d1, self.down1 = ResBlock2d(c, e), nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.d2, self.down2 = ResBlock2d(2 * c, e), nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1)
        self.mid = ResBlock2d(2 * c, e)
        self.up2, self.u2 = nn.Conv2d(4 * c, 2 * c, 3, padding=1), ResBlock2d(2 * c, e)
        self.up1, self.u1 = nn.Conv2d(3 * c, c, 3, padding=1), ResBlock2d(c, e)
        self.out = nn.Sequential(nn.GroupNorm(min(8, c), c), nn.SiLU(), nn.Conv2d(c, channels, 3, padding=1))

    def forward(self, z: Tensor, s: Tensor, y: Tensor | None = None) -> Tensor:
        """Velocity (B, C, H, W) at times s (B,) in [0, 1] for classes y (B,)."""
        emb = self.time(time_embedding(s, self.temb))
        if self.label is not None and y is not None:
            emb = emb + self.label(y.long())
        h1 = self.d1(self.inp(z), emb)  # H
        h2 = self.d2(self.down1(h1), emb)  # H/2
        h = self.mid(self.down2(h2), emb)  # H/4
        h = self.u2(self.up2(torch.cat([F.interpolate(h, scale_factor=2.0), h2], dim=1)), emb)
        h = self.u1(self.up1(torch.cat([F.interpolate(h, scale_factor=2.0), h1], dim=1)), emb)
        return self.out(h)
