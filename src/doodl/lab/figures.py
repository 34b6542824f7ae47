"""The point lab's figures, composed from lab.plots: trajectories per guidance method and scale over the
decision boundary (paper Figs. 1 to 5), CG / CFG / DOODL side by side, and postprocessing before and after."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .config import LabConfig
from .data import class_log_density
from .plots import points_figure, postprocess_figure, trajectory_figure, trajectory_figure_1d
from .sampling import Trajectories, sample_classes

if TYPE_CHECKING:
    from .experiment import Trained


def _prob(clf, clean: bool = False):
    def p(points: Tensor, t: int) -> Tensor:
        return clf(points, 0 if clean else t).softmax(-1)[:, 1]

    return p


def _subset(paths: Trajectories, labels: Tensor, n: int) -> tuple[Tensor, Tensor]:
    idx = torch.cat([torch.nonzero(labels == c).squeeze(1)[:n] for c in labels.unique().tolist()])
    return paths.path[:, idx], labels[idx]


def _nearest(scales: list[str], target: float) -> str:
    return min(scales, key=lambda k: abs(float(k) - target))


def point_figures(cfg: LabConfig, out: Path, tr: "Trained", details: dict, doodl: dict | None,
                  train: tuple[Tensor, Tensor]) -> list[Path]:
    """Write every figure of a point-lab run into `out`; returns their paths."""
    return (_figures_2d if cfg.dim == 2 else _figures_1d)(cfg, out, tr, details, doodl, train)


def _runs(cfg: LabConfig, details: dict, method: str, label: str) -> list[tuple[str, Tensor, Tensor, list[int]]]:
    runs = []
    for k, d in details[method].items():
        if k.startswith("_"):
            continue
        p, lab = _subset(d["paths"], d["labels"], cfg.n_plot)
        runs.append((f"{label}{k}", p, lab, d["paths"].timesteps))
    return runs


def _compare(cfg: LabConfig, details: dict, doodl: dict | None) -> list[tuple[str, Tensor, Tensor, list[int]]]:
    runs = []
    for method, sym in (("cg", "s"), ("cfg", "w")):
        keys = [k for k in details[method] if not k.startswith("_")]
        k = _nearest(keys, cfg.compare_scale)
        d = details[method][k]
        p, lab = _subset(d["paths"], d["labels"], cfg.n_plot)
        runs.append((f"{method.upper()} {sym}={k}", p, lab, d["paths"].timesteps))
    if doodl is not None:
        p, lab = _subset(doodl["paths"], doodl["labels"], cfg.n_plot)
        runs.append((f"DOODL ({cfg.doodl_opt_steps} steps, clean classifier)", p, lab, doodl["paths"].timesteps))
    return runs


def _post_cols(details: dict, method: str) -> list[tuple[str, Tensor, Tensor, Tensor]]:
    sym = "s" if method == "cg" else "w"
    return [(f"{method.upper()} {sym}={k}", d["paths"].final, d["post"], d["labels"])
            for k, d in details[method].items() if not k.startswith("_")]


def _bayes(data: str):
    cache: dict = {}

    def p(points: Tensor, t: int) -> Tensor:  # every panel asks for the same grid: compute it once
        key = (tuple(points.shape), float(points.sum()), float(points[0].sum()))
        if key not in cache:
            ld = class_log_density(points, data)
            post = ld.softmax(-1)[:, 1].float()
            # where neither class has any mass the posterior is a ratio of Gaussian tails: leave it blank
            cache[key] = torch.where(ld.max(dim=1).values > -8.0, post, torch.tensor(float("nan")))
        return cache[key]

    return p


def _figures_2d(cfg: LabConfig, out: Path, tr: "Trained", details: dict, doodl: dict | None,
                train: tuple[Tensor, Tensor]) -> list[Path]:
    x, y = train
    lo = (x.min(0).values - 0.4).tolist()
    hi = (x.max(0).values + 0.4).tolist()
    real, real_y = x[:4000], y[:4000]
    bayes, linear, clean = _bayes(cfg.data), _prob(tr.models.classifier), _prob(tr.clean, clean=True)
    lin = [(linear, "--")]
    note = "shading, solid line: true p(class 1 | x) and its boundary; dashed: CG's linear classifier (t=0)"
    files = [points_figure(out / "data.png", real, real_y, bayes, lo, hi,
                           "the two-class fractal; " + note + "; dotted: DOODL's clean classifier",
                           [(linear, "--"), (clean, ":")])]
    files.append(trajectory_figure(out / "trajectories_cg.png", [r[:3] for r in _runs(cfg, details, "cg", "CG s=")],
                                   real, bayes, lo, hi, "classifier guidance; " + note, lin))
    files.append(trajectory_figure(out / "trajectories_cfg.png", [r[:3] for r in _runs(cfg, details, "cfg", "CFG w=")],
                                   real, bayes, lo, hi, "classifier-free guidance (w=1: the conditional model); " + note, lin))
    files.append(trajectory_figure(out / "trajectories_doodl.png", [r[:3] for r in _compare(cfg, details, doodl)],
                                   real, bayes, lo, hi, "CG, CFG and DOODL; " + note + "; dotted: DOODL's clean classifier",
                                   [(linear, "--"), (clean, ":")]))
    for method in ("cg", "cfg"):
        files.append(postprocess_figure(out / f"postprocess_{method}.png", _post_cols(details, method), real, real_y,
                                        lo, hi, f"{method.upper()} before / after flow postprocessing (grey: real data)"))
    return files


def _figures_1d(cfg: LabConfig, out: Path, tr: "Trained", details: dict, doodl: dict | None,
                train: tuple[Tensor, Tensor]) -> list[Path]:
    x, y = train
    lim = (float(x.min()) - 0.5, float(x.max()) + 0.5)
    linear = _prob(tr.models.classifier)
    mlp = _prob(tr.mlp_noisy) if tr.mlp_noisy is not None else linear
    files = []
    # Fig. 1 / Fig. 2 at scale 1: the conditional model against its classifier-guided decomposition.
    mlp_models = replace(tr.models, classifier=tr.mlp_noisy) if tr.mlp_noisy is not None else tr.models
    n, seed = cfg.n_plot, cfg.seed + 77
    runs = []
    for name, models, method in (("conditional model", tr.models, "cond"), ("CG s=1, nonlinear classifier", mlp_models, "cg"),
                                 ("CG s=1, linear classifier", tr.models, "cg")):
        paths, lab = sample_classes(models, method, 1.0, n, 1, seed, cfg.num_steps)
        runs.append((name, paths.path, lab, paths.timesteps))
    files.append(trajectory_figure_1d(out / "trajectories_cond_vs_cg.png", runs, mlp, lim,
                                      "eq. 6: the conditional model (left side) against classifier guidance at s=1 on the "
                                      "unconditional model (right side), with a nonlinear and a linear noise-aware classifier "
                                      "(shading: the nonlinear one)"))
    files.append(trajectory_figure_1d(out / "trajectories_cg_linear.png", _runs(cfg, details, "cg", "CG s="), linear, lim,
                                      "classifier guidance, linear classifier (shading: its p(class 1 | x, t))"))
    mlp_runs = []
    for k in [k for k in details["cg"] if not k.startswith("_")]:
        paths, lab = sample_classes(mlp_models, "cg", float(k), n, 1, seed, cfg.num_steps)
        mlp_runs.append((f"CG s={k}", paths.path, lab, paths.timesteps))
    files.append(trajectory_figure_1d(out / "trajectories_cg_mlp.png", mlp_runs, mlp, lim,
                                      "classifier guidance, nonlinear classifier (shading: its p(class 1 | x, t))"))
    files.append(trajectory_figure_1d(out / "trajectories_cfg.png", _runs(cfg, details, "cfg", "CFG w="), mlp, lim,
                                      "classifier-free guidance (shading: nonlinear noise-aware classifier)"))
    files.append(trajectory_figure_1d(out / "trajectories_doodl.png", _compare(cfg, details, doodl), mlp, lim,
                                      "CG, CFG and DOODL side by side"))
    for method in ("cg", "cfg"):
        files.append(postprocess_figure(out / f"postprocess_{method}.png", _post_cols(details, method), x, y,
                                        (lim[0], 0.0), (lim[1], 1.0), f"{method.upper()} before / after postprocessing"))
    return files
