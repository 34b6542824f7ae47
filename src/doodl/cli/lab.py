"""`doodl lab`: the classifier-centric guidance lab (CG / CFG / DOODL trajectories, flow postprocessing, tables)."""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from pathlib import Path
from typing import Callable

import click

from .errors import UserError
from .logs import setup_logging


def _scales(ctx: click.Context, param: click.Parameter, value: str | None):
    """click callback: a comma list of guidance scales, each a finite number >= 0."""
    if value is None:
        return None
    from ..lab.config import parse_scales

    try:
        return parse_scales(value, f"--{param.name.replace('_', '-')}")  # type: ignore[union-attr]
    except ValueError as e:
        raise click.BadParameter(str(e).split(": ", 1)[-1], ctx, param) from None


def _common(f: Callable) -> Callable:
    """Options shared by every lab subcommand."""
    opts = [
        click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Folder for the figures, table.json and details.json (created if missing)."),
        click.option("--cg-scales", callback=_scales, default=None, metavar="S1,S2,..",
                     help="Classifier-guidance scales, comma-separated, each >= 0."),
        click.option("--cfg-scales", callback=_scales, default=None, metavar="W1,W2,..",
                     help="Classifier-free guidance scales, comma-separated, each >= 0 (1 = the conditional model)."),
        click.option("--k", type=click.IntRange(min=1), default=20, show_default=True,
                     help="Top-k nearest real neighbours for the postprocessing flow (one drawn per use)."),
        click.option("--solver", type=click.Choice(["euler", "dopri5"]), default="euler", show_default=True,
                     help="ODE solver of the postprocessing flow (dopri5: adaptive, torchdiffeq)."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of data, training and sampling."),
        click.option("--quick", is_flag=True, help="A reduced run (seconds): tiny budgets, same pipeline and outputs."),
        click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True,
                     help="torch CPU threads (0 = torch's default)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _setup(threads: int) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)
    setup_logging(logging.WARNING)


def _given(**options) -> dict:
    """The options the user set (not None): the config fields to replace."""
    return {n: v for n, v in options.items() if v is not None}


def _progress(msg: str) -> None:
    click.echo(f"[lab] {msg}", err=True)


def _report(result, out: Path) -> None:
    from ..lab.experiment import format_table

    click.echo(format_table(result.table, result.metric))
    click.echo(f"wrote {len(result.files)} files to {out} in {result.seconds:.0f} s (CPU {result.cpu_seconds:.0f} s)")


def _point_lab(data: str, out: Path, cg_scales, cfg_scales, k: int, solver: str, seed: int, quick: bool,
               threads: int, train_steps: int | None, doodl_points: int | None, flow_per: str | None,
               flow_steps: int | None) -> None:
    from ..lab.config import LabConfig
    from ..lab.experiment import run_point_lab

    _setup(threads)
    cfg = LabConfig(data=data, seed=seed)  # type: ignore[arg-type]
    cfg = cfg.quick() if quick else cfg
    flow = replace(cfg.flow, k=k)
    changes: dict = {"solver": solver, **_given(cg_scales=cg_scales, cfg_scales=cfg_scales, doodl_points=doodl_points,
                                                 flow_per=flow_per)}
    if train_steps is not None:
        changes["denoiser"] = replace(cfg.denoiser, steps=train_steps)
        flow = replace(flow, train=replace(flow.train, steps=train_steps))
    if flow_steps is not None:
        flow = replace(flow, train=replace(flow.train, steps=flow_steps))
    result = run_point_lab(replace(cfg, flow=flow, **changes), out, _progress)
    _report(result, out)


@click.group("lab")
def lab() -> None:
    """The classifier-centric guidance lab: CG and CFG push trajectories away from decision boundaries; a
    rectified flow to top-k real neighbours postprocesses the samples ("Studying Classifier(-Free) Guidance
    From a Classifier-Centric Perspective", 2025). DOODL joins CG and CFG on the 2-D data.

    \b
    Examples:
      doodl lab fractal --out outputs/lab-fractal
      doodl lab fractal --out /tmp/lab --quick --cg-scales 1,2,4 --cfg-scales 1,3
      doodl lab gaussian1d --out outputs/lab-1d
      doodl lab fmnist --out outputs/lab-fmnist --quick
    """


def _point_options(f: Callable) -> Callable:
    f = click.option("--doodl-points", type=click.IntRange(min=0), default=None,
                     help="DOODL seeds per class (0 skips DOODL) [default: 128].")(f)
    f = click.option("--train-steps", "train_steps", type=click.IntRange(min=1), default=None,
                     help="Optimiser steps per denoiser and per flow (--flow-steps overrides the flows') [default: 3000].")(f)
    f = click.option("--flow-steps", type=click.IntRange(min=1), default=None,
                     help="Optimiser steps per postprocessing flow [default: LabConfig.flow's, in the lab README].")(f)
    f = click.option("--flow-per", type=click.Choice(["scale", "method"]), default=None,
                     help="One postprocessing flow per guidance scale (the paper's main results) or one per method "
                          "for all its scales (the paper's App. A) [default: scale].")(f)
    return f


@lab.command("fractal")
@_common
@_point_options
def fractal(train_steps: int | None, **kw) -> None:
    """2-D two-class fractal: trajectory figures (CG, CFG, DOODL), postprocessing, table.json.

    \b
    Examples:
      doodl lab fractal --out outputs/lab-fractal
      doodl lab fractal --out /tmp/lab --quick
    """
    _point_lab("fractal", train_steps=train_steps, **kw)


@lab.command("gaussian1d")
@_common
@_point_options
def gaussian1d(train_steps: int | None, **kw) -> None:
    """1-D two-class Gaussian mixture: trajectories over (t, x) (paper Figs. 1 to 3), postprocessing, table.json.

    \b
    Examples:
      doodl lab gaussian1d --out outputs/lab-1d
    """
    _point_lab("gaussian1d", train_steps=train_steps, **kw)


@lab.command("fmnist")
@_common
@click.option("--n-per-class", type=click.IntRange(min=1), default=None, help="Generated images per class and scale.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True, help="Where to run.")
def fmnist(out: Path, cg_scales, cfg_scales, k: int, solver: str, seed: int, quick: bool, threads: int,
           n_per_class: int | None, device: str) -> None:
    """Fashion-MNIST with the zoo's DDPMs: CG with a noise-aware linear classifier (paper §C.5), CFG, a small
    UNet postprocessing flow, FMNIST-FID before and after; table.json.

    \b
    Examples:
      doodl lab fmnist --out outputs/lab-fmnist
      doodl lab fmnist --out /tmp/lab-fmnist --quick
    """
    from ..lab.fmnist import FmnistConfig, run_fmnist_lab

    _setup(threads)
    cfg = FmnistConfig(seed=seed, k=k, solver=solver, device=device)  # type: ignore[arg-type]
    cfg = cfg.quick() if quick else cfg
    changes = _given(cg_scales=cg_scales, cfg_scales=cfg_scales, n_per_class=n_per_class)
    try:
        result = run_fmnist_lab(replace(cfg, **changes), out, _progress)
    except ImportError as e:
        raise UserError(str(e)) from None
    _report(result, out)
