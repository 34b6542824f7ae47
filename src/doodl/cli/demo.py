"""`doodl demo` and `doodl bench vocab`: DOODL against one-step classifier guidance on the zoo (DOODL §5.2)."""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import click
import torch

from ..devices import as_device
from ..io import atomic_write_text, check_writable_dir, grid, save_png
from ..io.jsontext import json_text, nulls_for_nonfinite
from ..runs.outputs import prepare_out_dir
from .errors import as_option_error
from .options import SeedRange

METHOD_LABELS = {"vanilla": "vanilla", "one_step": "one-step guidance", "doodl": "DOODL"}


def _load(device: str, task: str = "super"):
    """The zoo models for a task and the test split (None when the data set is not installed: FID is skipped)."""
    from ..data.fashion_mnist import as_float_images, load_fashion_mnist
    from ..zoo import load_classifier, load_fashion_backend

    backend = load_fashion_backend(device=device, name="fashion-super-ddpm" if task == "super" else "fashion-ddpm")
    guide, evaluator = load_classifier("fashion-guide", device), load_classifier("fashion-eval", device)
    try:
        images, labels = load_fashion_mnist("test")
        test = (as_float_images(images), labels)
    except FileNotFoundError as e:
        click.echo(f"note: FMNIST-FID skipped ({str(e).split(':')[0]})", err=True)
        test = None
    return backend, guide, evaluator, test


DEMO_FILES = ("grid.png", "report.json", "images")  # what `doodl demo` writes (images/<method>/<seed>.png)


def _config(task: str, steps: int | None, opt_steps: int | None, lr: float | None, grad_clip: float | None = None):
    """VocabConfig with the options that were given (None: the tuned default), checked by DoodlConfig's own
    check (errors name --lr / --grad-clip)."""
    from dataclasses import replace

    from ..demo import VocabConfig
    from ..optimizer import DoodlConfig

    given = {"steps": steps, "opt_steps": opt_steps, "lr": lr, "grad_clip": grad_clip}
    cfg = replace(VocabConfig(task=task), **{k: v for k, v in given.items() if v is not None})
    try:
        DoodlConfig(lr=cfg.lr, grad_clip=cfg.grad_clip, perturb_std=cfg.perturb_std)
    except ValueError as e:
        raise as_option_error(e, {"lr": "--lr", "grad_clip": "--grad-clip", "perturb_std": "perturb_std"}) from None
    return cfg


def _device(device: str) -> str:
    """--device checked before any work (torch's own error lists every backend it knows)."""
    return str(as_device(device, "--device"))


def _seed_list(seeds: int | None, seed: list[int] | None) -> list[int]:
    """--seed 0-7 (as the other commands) or --seeds N (seeds 0..N-1, default 8), not both."""
    if seeds is not None and seed is not None:
        raise click.UsageError("give --seed (a range such as 0-7) or --seeds (a count), not both")
    return list(seed) if seed is not None else list(range(8 if seeds is None else seeds))


def _table(rows: list[tuple[str, dict]]) -> str:
    """Markdown table of method metrics."""
    out = ["| method | target accuracy | FMNIST-FID | saturated | seconds | n |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, m in rows:
        fid = "n/a" if m["fid"] is None else f"{m['fid']:.1f}"
        sat = "n/a" if m.get("saturated") is None else f"{m['saturated']:.3f}"
        out.append(f"| {name} | {m['target_accuracy']:.3f} | {fid} | {sat} | {m['seconds']:.1f} | {m['n']} |")
    return "\n".join(out)


def _progress(total: int, quiet: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="images", disable=quiet, leave=False)


@click.command("demo")
@click.option("--out", "out", default="outputs/demo", show_default=True, type=click.Path(file_okay=False),
              help="Output folder (created if missing).")
@click.option("--target", default="ankle boot", show_default=True, help="Fashion-MNIST class name or index 0-9.")
@click.option("--task", type=click.Choice(["super", "cross"]), default="super", show_default=True,
              help="super: the superclass model prompted with the target's superclass, steered within it (§5.2); "
                   "cross: the unconditional model steered across categories (harder).")
@click.option("--superclass", default=None, help="task super: tops, trousers, footwear or bags [default: the target's].")
@click.option("--seeds", type=click.IntRange(1, 1000), default=None, help="Images per method: seeds 0..N-1 [default: 8].")
@click.option("--seed", "seed", type=SeedRange(), default=None, help="Seeds such as 0-7 or 0,5,7 (instead of --seeds).")
@click.option("--steps", type=click.IntRange(2, 1000), default=None,
              help="Sampling steps T [default: 20, where EDICT at p = 0.8 is stable on this model].")
@click.option("--opt-steps", type=click.IntRange(0, 500), default=None, help="DOODL updates [default: tuned].")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="DOODL step size [default: tuned].")
@click.option("--grad-clip", type=click.FloatRange(min=0, min_open=True), default=None,
              help="DOODL element-wise gradient clip [default: tuned].")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--overwrite", is_flag=True, help="Reuse a non-empty --out: the previous demo's files are removed first.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print report.json on stdout instead of the table.")
def demo(out: str, target: str, task: str, superclass: str | None, seeds: int | None, seed: list[int] | None,
         steps: int | None, opt_steps: int | None, lr: float | None, grad_clip: float | None, device: str,
         overwrite: bool, quiet: bool, as_json: bool) -> None:
    """Vocabulary expansion (DOODL §5.2): a DDPM that knows only "footwear" steered to "ankle boot" by a classifier.

    Runs vanilla sampling, one-step classifier guidance and DOODL from the same seeds, scores them with an
    independent classifier (target accuracy) and FMNIST-FID, and writes grid.png, images/<method>/<seed>.png
    and report.json.

    \b
    Examples:
      doodl demo
      doodl demo --target sneaker --out outputs/sneaker
      doodl demo --seed 4-7 --out outputs/more --json
      doodl demo --task cross --target 9 --opt-steps 30 --device cuda
    """
    from ..data.fashion_mnist import CLASS_NAMES, class_index
    from ..demo import METHODS, run_vocab

    from ..zoo.superclass import SUPER_NAMES, check_target_in_super, superclass_of

    k = class_index(target)  # every option is checked before any work
    sup = None
    if task == "super":
        k, sup = check_target_in_super(k, superclass if superclass is not None else superclass_of(k))
    elif superclass is not None:
        raise ValueError("--superclass applies to --task super only")
    seed_list = _seed_list(seeds, seed)
    cfg = _config(task, steps, opt_steps, lr, grad_clip)
    device = _device(device)
    folder = prepare_out_dir(check_writable_dir(out), overwrite, DEMO_FILES)
    torch.manual_seed(0)
    backend, guide, evaluator, test = _load(device, task)
    reference = test[0][test[1] == k] if test is not None else None
    bar = _progress(len(seed_list) * len(METHODS), quiet)
    res = run_vocab(backend, guide, evaluator, reference, k, seed_list, cfg, progress=bar.update, superclass=sup)
    bar.close()
    for m in METHODS:
        for s, img in zip(res.seeds, res.methods[m].images):
            save_png(folder / "images" / m / f"{s}.png", img, {"method": m, "seed": s, "target": CLASS_NAMES[k]})
    save_png(folder / "grid.png", grid([res.methods[m].images for m in METHODS], scale=3))
    report = {"target": CLASS_NAMES[k], "task": task, "superclass": None if sup is None else SUPER_NAMES[sup],
              "methods": nulls_for_nonfinite(res.metrics), "config": cfg.__dict__, "seeds": res.seeds,
              "doodl_loss_history": nulls_for_nonfinite(res.methods["doodl"].history)}
    text = _strict_json(report, str(folder / "report.json"))
    atomic_write_text(folder / "report.json", text + "\n")
    if as_json:
        click.echo(text)
        return
    prompt = f", generator prompted with {SUPER_NAMES[sup]!r}" if sup is not None else ", unconditional generator"
    click.echo(f"target: {CLASS_NAMES[k]} ({k}){prompt}, {len(seed_list)} seeds, T={cfg.steps}, DOODL {cfg.opt_steps} updates")
    click.echo(_table([(METHOD_LABELS[m], res.metrics[m]) for m in METHODS]))
    click.echo(f"wrote {folder / 'grid.png'} (rows: {', '.join(METHOD_LABELS[m] for m in METHODS)}), "
               f"{folder / 'images'}, {folder / 'report.json'}")


def _strict_json(obj: Any, what: str) -> str:
    """Strict JSON text (no NaN / Infinity): a non-finite value is an error naming the file."""
    return json_text(obj, what, indent=1)


@click.group("bench")
def bench() -> None:
    """Benchmarks that write result tables (see BENCHMARKS.md)."""


@bench.command("vocab")
@click.option("--out", default="outputs/bench-vocab", show_default=True, type=click.Path(file_okay=False))
@click.option("--task", type=click.Choice(["super", "cross"]), default="super", show_default=True,
              help="super: superclass model steered within each class's superclass (§5.2); cross: unconditional.")
@click.option("--seeds", type=click.IntRange(1, 1000), default=8, show_default=True, help="Images per class and method.")
@click.option("--steps", type=click.IntRange(2, 1000), default=None, help="Sampling steps T [default: 20].")
@click.option("--opt-steps", type=click.IntRange(0, 500), default=None, help="DOODL updates [default: tuned].")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--grad-clip", type=click.FloatRange(min=0, min_open=True), default=None,
              help="DOODL element-wise gradient clip [default: tuned].")
@click.option("--classes", default="0-9", show_default=True, help="Class indices, e.g. 0-9 or 2,6.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--quiet", is_flag=True)
def bench_vocab(out: str, task: str, seeds: int, steps: int | None, opt_steps: int | None, lr: float | None,
                grad_clip: float | None, classes: str, device: str, quiet: bool) -> None:
    """Paper Table 3 at small scale: every class, each method's target accuracy and FMNIST-FID.

    Writes OUT/vocab.json, OUT/vocab.md (the table to paste into BENCHMARKS.md, with the command) and
    OUT/grid.png (three rows per class: vanilla, one-step guidance, DOODL; one column per seed). Each
    finished class is kept under OUT/classes/, so a killed run, started again with the same settings, goes on
    from the first unfinished class.

    \b
    Examples:
      doodl bench vocab --seeds 8
      doodl bench vocab --classes 2,6 --seeds 16 --device cuda
    """
    from ..data.fashion_mnist import CLASS_NAMES
    from ..demo import METHODS
    from ..demo.bench import run_bench
    from ..demo.table import vocab_table
    from .options import parse_seeds

    ks = parse_seeds(classes)
    if any(k > 9 for k in ks):
        raise ValueError(f"--classes must lie in 0-9, got {classes!r}")
    cfg = _config(task, steps, opt_steps, lr, grad_clip)  # every option is checked before any work
    device = _device(device)
    folder = check_writable_dir(out)
    backend, guide, evaluator, test = _load(device, task)
    start = time.perf_counter()
    bar = _progress(seeds * len(METHODS) * len(ks), quiet)
    res = run_bench(backend, guide, evaluator, test, ks, list(range(seeds)), cfg, folder, CLASS_NAMES, bar.update)
    bar.close()
    rows = {**res.per_class, "**mean**": res.mean}
    table = vocab_table(rows, METHODS, METHOD_LABELS)
    pooled = ", ".join(f"{METHOD_LABELS[m]} {v:.1f}" for m, v in res.pooled_fid.items() if v is not None)
    machine = (f"{torch.cuda.get_device_name(0)}" if device.startswith("cuda") else f"{platform.machine()}, {torch.get_num_threads()} threads")
    cmd = (f"doodl bench vocab --task {task} --seeds {seeds} --steps {cfg.steps} --opt-steps {cfg.opt_steps} --lr {cfg.lr} "
           f"--grad-clip {cfg.grad_clip} --classes {classes} --device {device}")
    resumed = f"; classes {res.resumed} read back from an earlier run" if res.resumed else ""
    md = "\n".join([f"Command: `{cmd}` on {machine}, torch {torch.__version__}, "
                    f"{time.perf_counter() - start:.0f} s{resumed}; seeds 0-{seeds - 1}; config {cfg.__dict__}", "",
                    table, "", f"FMNIST-FID of all images pooled per method, against the test images of these classes: {pooled or 'n/a'}", ""])
    save_png(folder / "grid.png", grid([ims[m] for ims in res.images.values() for m in METHODS], scale=2))
    atomic_write_text(folder / "vocab.md", md)
    atomic_write_text(folder / "vocab.json", _strict_json({"command": cmd, "machine": machine, "config": cfg.__dict__,
                                                           "per_class": nulls_for_nonfinite(res.per_class), "mean": nulls_for_nonfinite(res.mean),
                                                           "pooled_fid": nulls_for_nonfinite(res.pooled_fid), "resumed": res.resumed},
                                                          str(folder / "vocab.json")) + "\n")
    click.echo(md)
