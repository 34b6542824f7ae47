"""Small plots written as PNG (matplotlib, Agg backend): the optimisation's loss curve."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .atomic import atomic_path


def save_loss_curve(path: str | os.PathLike, losses: Sequence[Sequence[float]], labels: Sequence[str] | None = None,
                    title: str = "DOODL loss per optimisation step") -> Path:
    """One line per image: losses[i][step]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    for i, curve in enumerate(losses):
        ax.plot(range(len(curve)), curve, marker=".", label=labels[i] if labels else None)
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    if labels:
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
