"""Configuration of a point-data lab run (1-D mixture or 2-D fractal) and parsing of guidance-scale lists."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from .doodl_points import POINT_EDICT_STEPS
from .fidelity import DEFAULT_K
from .postprocess import FlowConfig, Solver
from .train import TrainConfig

FlowPer = Literal["scale", "method"]


def check_flow_per(flow_per: str) -> None:
    """'scale' (one postprocessing flow per guidance scale) or 'method' (one for all scales), else ValueError."""
    if flow_per not in ("scale", "method"):
        raise ValueError(f"flow_per must be 'scale' or 'method', got {flow_per!r}")


def parse_scales(text: str | float | int, name: str = "scales") -> tuple[float, ...]:
    """'1,2,4' -> (1.0, 2.0, 4.0); each a finite number >= 0, no duplicates; ValueError naming `name`."""
    parts = [text] if isinstance(text, (int, float)) and not isinstance(text, bool) else str(text).split(",")
    out: list[float] = []
    for part in parts:
        p = str(part).strip()
        try:
            v = float(p)
        except ValueError:
            raise ValueError(f"{name}: {p!r} is not a number (give a comma list like '1,2,4')") from None
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{name}: guidance scales must be finite and >= 0, got {p!r}")
        if v not in out:
            out.append(v)
    if not out:
        raise ValueError(f"{name} must list at least one scale")
    return tuple(out)


def scale_key(s: float) -> str:
    """The table's key for a scale: '2', '2.5'."""
    return f"{s:g}"


@dataclass(frozen=True)
class LabConfig:
    """One lab run; defaults fit the 2-D fractal in about 10 CPU-minutes on one thread (our measurement: 600 s)."""

    data: Literal["fractal", "gaussian1d"] = "fractal"
    n_train: int = 20_000  # real points per class to train on (the fractal's density is fully sampled)
    n_eval: int = 2_000  # per class: held-out real points, and generated points per scale for the table (two real
    #                      sets of 1000 per class are 0.095 apart in sliced Wasserstein: that is the noise floor)
    n_flow: int = 1_000  # per class and scale: generated points the postprocessing flow trains on
    cg_scales: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)  # classifier guidance s (paper Fig. 4: 1 to 10)
    cfg_scales: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0)  # CFG w (paper Fig. 5: 1 to 5; w = 1 is the conditional model)
    num_steps: int = 50  # DDIM steps (deterministic, so trajectories are smooth)
    width: int = 128  # PointMLP width (ours)
    denoiser_octaves: int = 0  # Fourier features of the denoisers' input (measured on the fractal: 4 octaves move
    #                            the share of conditional samples on the support from 0.517 to 0.527, within noise)
    denoiser: TrainConfig = TrainConfig(steps=3000)  # per denoiser (unconditional, conditional)
    classifier: TrainConfig = TrainConfig(steps=2000)  # the noise-aware classifier
    classifier_kind: Literal["linear", "mlp"] = "linear"  # paper App. C.4: linear for the fractal
    clean_classifier: TrainConfig = TrainConfig(steps=2000)  # DOODL's clean-data MLP classifier
    flow_octaves: int = 6  # Fourier features of the flow's input (ours: without them the flow cannot resolve the
    #                        twigs; on the fractal they raise the share of CFG w=1 samples on the support 0.49 -> 0.75)
    flow: FlowConfig = field(default_factory=lambda: FlowConfig(k=20, train=TrainConfig(steps=5000, label_dropout=0.0)))
    #  per flow (--flow-steps); with one flow per scale (8 flows) the fractal run takes 10 CPU-minutes on one
    #  thread at 5000 steps (6.3 at 3000; measured, BENCHMARKS.md §6); paper: 100k steps at batch 4096
    flow_per: FlowPer = "scale"  # "scale": one flow per guidance scale, trained on that scale's samples (the paper's
    #                              main results, §4.1, Figs. 4-7); "method": one flow per guidance method for all
    #                              its scales, on the same amount of data split evenly over the scales (App. A)
    solver: Solver = "euler"  # postprocessing ODE solver; "dopri5" is adaptive (paper App. B)
    euler_steps: int = 20  # Euler steps for the postprocessing ODE
    doodl_points: int = 128  # per class; 0 skips DOODL
    doodl_opt_steps: int = 20  # DOODL updates (paper: 10 to 50)
    doodl_num_steps: int = POINT_EDICT_STEPS  # EDICT steps inside DOODL (p and T: doodl_points.POINT_EDICT_STEPS)
    compare_scale: float = 2.0  # the CG and CFG scale drawn beside DOODL
    pr_k: int = DEFAULT_K  # k of the k-NN balls of improved precision / recall (Kynkäänniemi et al. 2019: 3)
    n_plot: int = 20  # trajectories drawn per class and panel
    seed: int = 0

    def __post_init__(self) -> None:
        """Range-check; errors name the field."""
        if self.data not in ("fractal", "gaussian1d"):
            raise ValueError(f"unknown data set {self.data!r}; the point lab knows 'fractal' and 'gaussian1d'")
        for name in ("n_train", "n_eval", "n_flow", "num_steps", "width", "euler_steps", "n_plot", "pr_k"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        for name in ("doodl_points", "doodl_opt_steps", "doodl_num_steps", "seed", "flow_octaves", "denoiser_octaves"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative int, got {v!r}")
        parse_scales(",".join(map(str, self.cg_scales)) or "", "cg_scales")
        parse_scales(",".join(map(str, self.cfg_scales)) or "", "cfg_scales")
        if self.flow.k > self.n_train:
            raise ValueError(f"k ({self.flow.k}) is larger than the real set ({self.n_train} points per class)")
        check_flow_per(self.flow_per)
        for name in ("n_eval", "doodl_points"):  # the point sets precision / recall are measured on
            v = getattr(self, name)
            if v and self.pr_k >= v:
                raise ValueError(f"pr_k ({self.pr_k}) must be smaller than {name} ({v}): k-NN balls need k + 1 points")
        if self.solver not in ("euler", "dopri5"):
            raise ValueError(f"solver must be 'euler' or 'dopri5', got {self.solver!r}")
        if self.classifier_kind not in ("linear", "mlp"):
            raise ValueError(f"classifier_kind must be 'linear' or 'mlp', got {self.classifier_kind!r}")

    @property
    def dim(self) -> int:
        """Dimension of the points."""
        return 2 if self.data == "fractal" else 1

    def quick(self) -> "LabConfig":
        """A reduced run for tests and smoke checks (seconds, not minutes): same pipeline, tiny budgets."""
        small = TrainConfig(steps=60, batch=256)
        return replace(self, n_train=2000, n_eval=150, n_flow=150, num_steps=10, width=32, denoiser=small,
                       classifier=small, clean_classifier=small, flow=replace(self.flow, train=small),
                       doodl_points=min(self.doodl_points, 8), doodl_opt_steps=min(self.doodl_opt_steps, 2),
                       n_plot=5, euler_steps=4)  # DOODL keeps its T: fewer EDICT steps drift apart at p = 0.8
