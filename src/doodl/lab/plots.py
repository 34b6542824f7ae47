"""The lab's figures (matplotlib, Agg): trajectories over a classifier's decision boundary, as in the paper's
Figs. 1 to 3 (1-D: x against the diffusion step) and Figs. 4 and 5 (2-D: paths in the plane), and
before/after views of the postprocessing. Every figure is written atomically."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from ..io.atomic import atomic_path

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")
ProbFn = Callable[[Tensor, int], Tensor]  # (points (N, D), timestep) -> p(class 1) (N,)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | os.PathLike) -> Path:
    """Write a figure as PNG atomically and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    _plt().close(fig)
    return Path(path)


def _grid(lo: Sequence[float], hi: Sequence[float], n: int = 150) -> tuple[Tensor, Tensor, Tensor]:
    xs, ys = torch.linspace(lo[0], hi[0], n), torch.linspace(lo[1], hi[1], n)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    return gx, gy, torch.stack([gx.flatten(), gy.flatten()], dim=1)


def boundary_2d(ax, prob: ProbFn | None, lo: Sequence[float], hi: Sequence[float], t: int = 0,
                shade: bool = True, style: str = "-") -> None:
    """Shade p(class 1 | x, t) and draw its 0.5 contour: the classifier's decision boundary."""
    if prob is None:
        return
    gx, gy, pts = _grid(lo, hi)
    with torch.no_grad():
        p = prob(pts, t).reshape(gx.shape)
    if shade:
        ax.imshow(p.numpy(), origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), cmap="coolwarm", vmin=0, vmax=1,
                  alpha=0.25, aspect="auto", interpolation="bilinear")
    ax.contour(gx.numpy(), gy.numpy(), p.numpy(), levels=[0.5], colors="k", linewidths=1.0, linestyles=style)


def trajectories_2d(ax, path: Tensor, labels: Tensor, real: Tensor | None = None) -> None:
    """Paths (S + 1, N, 2) as thin lines coloured by class, samples as dots, real data as grey specks."""
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=0.5, c="0.55", alpha=0.35, linewidths=0, rasterized=True)
    for c in labels.unique().tolist():
        sel = path[:, labels == c]
        ax.plot(sel[..., 0].numpy(), sel[..., 1].numpy(), color=COLORS[c % 4], lw=0.5, alpha=0.55)
        ax.scatter(sel[-1, :, 0], sel[-1, :, 1], s=6, color=COLORS[c % 4], edgecolors="k", linewidths=0.3, zorder=3)


def panels(n: int, size: float = 3.2, rows: int = 1):
    """A row (or grid) of square panels."""
    plt = _plt()
    cols = (n + rows - 1) // rows
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), dpi=100, squeeze=False)
    return fig, axes


def trajectory_figure(path: str | os.PathLike, runs: Sequence[tuple[str, Tensor, Tensor]], real: Tensor | None,
                      prob: ProbFn | None, lo: Sequence[float], hi: Sequence[float], title: str,
                      lines: Sequence[tuple[ProbFn, str]] = ()) -> Path:
    """2-D: one panel per (title, path (S+1, N, 2), labels), shaded by `prob` at t = 0 with its 0.5 contour
    solid, and the 0.5 contour of each (prob, linestyle) in `lines`."""
    fig, axes = panels(len(runs), size=4.0)
    for ax, (name, p, lab) in zip(axes[0], runs):
        boundary_2d(ax, prob, lo, hi)
        for other, style in lines:
            boundary_2d(ax, other, lo, hi, shade=False, style=style)
        trajectories_2d(ax, p, lab, real)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(textwrap.fill(title, int(fig.get_figwidth() * 15)), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def points_figure(path: str | os.PathLike, points: Tensor, labels: Tensor, prob: ProbFn | None, lo: Sequence[float],
                  hi: Sequence[float], title: str, lines: Sequence[tuple[ProbFn, str]] = ()) -> Path:
    """2-D: one scatter of labelled points over the shaded `prob` and the 0.5 contours of `lines`."""
    fig, axes = panels(1, size=5.0)
    ax = axes[0][0]
    boundary_2d(ax, prob, lo, hi)
    for other, style in lines:
        boundary_2d(ax, other, lo, hi, shade=False, style=style)
    for c in labels.unique().tolist():
        ax.scatter(points[labels == c, 0], points[labels == c, 1], s=1.0, color=COLORS[c % 4], linewidths=0, rasterized=True)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    fig.suptitle(textwrap.fill(title, int(fig.get_figwidth() * 15)), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def trajectory_figure_1d(path: str | os.PathLike, runs: Sequence[tuple[str, Tensor, Tensor, list[int]]],
                         prob: ProbFn | None, lim: tuple[float, float], title: str) -> Path:
    """1-D: x against the denoising step, over p(class 1 | x, t) of a noise-aware classifier (paper Figs. 1 to 3).

    runs: (title, path (S + 1, N, 1), labels (N,), the S timesteps); path[i] sits at noise level timesteps[i].
    """
    fig, axes = panels(len(runs), size=3.4)
    for ax, (name, p, lab, timesteps) in zip(axes[0], runs):
        x_axis = list(timesteps) + [-1]  # the last entry is the clean sample
        if prob is not None:
            xs = torch.linspace(lim[0], lim[1], 200)
            with torch.no_grad():
                img = torch.stack([prob(xs[:, None], int(t)) for t in range(0, 1000, 20)], dim=1)
            ax.imshow(img.numpy(), origin="lower", extent=(0, 1000, lim[0], lim[1]), cmap="coolwarm", vmin=0, vmax=1,
                      alpha=0.35, aspect="auto")
            ax.contour(torch.arange(0, 1000, 20).numpy(), xs.numpy(), img.numpy(), levels=[0.5], colors="k", linewidths=1.0)
        for c in lab.unique().tolist():
            ax.plot(x_axis, p[:, lab == c, 0].numpy(), color=COLORS[c % 4], lw=0.6, alpha=0.6)
        ax.set_xlim(1000, -1)
        ax.set_ylim(*lim)
        ax.set_xlabel("diffusion step t", fontsize=8)
        ax.set_title(name, fontsize=9)
    fig.suptitle(textwrap.fill(title, int(fig.get_figwidth() * 15)), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def postprocess_figure(path: str | os.PathLike, cols: Sequence[tuple[str, Tensor, Tensor, Tensor]], real: Tensor,
                       real_labels: Tensor, lo: Sequence[float], hi: Sequence[float], title: str) -> Path:
    """Columns (name, before (N, D), after (N, D), labels): top row before, bottom row after postprocessing.
    2-D points as scatter; 1-D as per-class histograms against the real data's."""
    fig, axes = panels(2 * len(cols), rows=2)
    for j, (name, before, after, lab) in enumerate(cols):
        for i, (pts, tag) in enumerate(((before, "before"), (after, "after"))):
            ax = axes[i][j]
            if pts.shape[1] == 1:
                bins = torch.linspace(lo[0], hi[0], 61).numpy()
                for c in lab.unique().tolist():  # points beyond the limits are drawn in the edge bins
                    ax.hist(real[real_labels == c, 0].clamp(lo[0], hi[0]).numpy(), bins=bins, density=True,
                            color="0.6", alpha=0.5)
                    ax.hist(pts[lab == c, 0].clamp(lo[0], hi[0]).numpy(), bins=bins, density=True, histtype="step",
                            color=COLORS[c % 4])
            else:
                ax.scatter(real[:, 0], real[:, 1], s=0.5, c="0.6", alpha=0.3, linewidths=0, rasterized=True)
                for c in lab.unique().tolist():
                    ax.scatter(pts[lab == c, 0], pts[lab == c, 1], s=1.2, color=COLORS[c % 4], linewidths=0, rasterized=True)
                ax.set_ylim(lo[1], hi[1])
                ax.set_yticks([])
            ax.set_xlim(lo[0], hi[0])
            ax.set_title(f"{name}, {tag}", fontsize=9)
    fig.suptitle(textwrap.fill(title, int(fig.get_figwidth() * 15)), fontsize=9)
    fig.tight_layout()
    return save(fig, path)
