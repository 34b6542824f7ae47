"""`doodl zoo`: train, list, sample from and evaluate the Fashion-MNIST model zoo."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

import click

from .errors import UserError
from .logs import setup_logging
from .options import SeedRange

BACKEND_NAMES = {"fashion": False, "fashion-ddpm": False, "fashion-cond": True, "fashion-cond-ddpm": True}
WEIGHTS_DIR = click.option("--weights-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                           help="Folder of zoo weights [default: $DOODL_ZOO_DIR, else the package's zoo/weights].")
DEVICE = click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
                      help="Where to run.")


def _setup_logging() -> None:
    """Progress lines from the library on stderr (each line flushed), once."""
    setup_logging(logging.INFO)


def _command_line(ctx: click.Context) -> str:
    """The invocation rebuilt from the options that were set, for the model card."""
    parts = ["doodl", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not isinstance(param, click.Option) or value is None or param.name == "help":
            continue
        if param.is_flag:
            if value:
                parts.append(param.opts[0])
        else:
            parts += [param.opts[0], shlex.quote(str(value))]
    return " ".join(parts)


@click.group("zoo")
def zoo() -> None:
    """The Fashion-MNIST model zoo: two DDPMs, a guidance and an evaluation classifier.

    \b
    Examples:
      doodl zoo list
      doodl zoo sample fashion-cond --class sneaker --guidance-scale 3 --out sneakers.png
      doodl zoo train --model fashion-guide --steps 200 --limit 2000 --out-dir /tmp/zoo
      doodl zoo eval --model all
    """


@zoo.command("train")
@click.option("--model", "model_name", required=True,
              type=click.Choice(["fashion-ddpm", "fashion-cond-ddpm", "fashion-super-ddpm", "fashion-guide", "fashion-eval",
                                 "all"]),
              help="Which model; 'all' trains the classifiers first, then the DDPMs.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Optimiser steps [default: per model].")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Batch size [default: per model].")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Peak learning rate.")
@DEVICE
@click.option("--amp/--no-amp", default=False, show_default=True, help="bf16 autocast (CUDA only).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed [default: guide 0, eval 1, ddpm 0, cond-ddpm 2]; with --model all, added to each default.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where weights, cards and README go [default: $DOODL_ZOO_DIR].")
@click.option("--into-package", is_flag=True,
              help="With no --out-dir and no $DOODL_ZOO_DIR: replace the weights the installed package ships.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Per-model wall-clock budget; training stops early and still saves.")
@click.option("--limit", "train_limit", type=click.IntRange(min=1), default=None, help="Use the first N training images.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of the Fashion-MNIST IDX files [default: $DOODL_FASHION_MNIST, else Debian's folder].")
@click.option("--log-every", type=click.IntRange(min=1), default=None, help="A progress line every N steps.")
@click.option("--sample-eval", type=click.IntRange(min=0), default=None,
              help="DDPMs: FMNIST-FID of N samples into the card (needs fashion-eval in --out-dir).")
@click.option("--grid-seeds", type=click.IntRange(min=0), default=None, help="DDPMs: seeds per row of the sample grid.")
def train(model_name: str, seed: int | None, out_dir: Path | None, into_package: bool, **opts) -> None:
    """Train zoo models; writes <name>.safetensors, <name>.json (model card) and README.md.

    \b
    Examples:
      doodl zoo train --model fashion-guide --steps 200 --limit 2000 --out-dir /tmp/zoo
      doodl zoo train --model all --steps 20 --batch-size 16 --limit 256 --out-dir /tmp/zoo-smoke
      python -m doodl.cli zoo train --model fashion-ddpm --device cuda --amp --steps 4000 \\
          --batch-size 256 --max-minutes 2.4 --sample-eval 1000
    """
    from ..io.atomic import check_writable_dir
    from ..zoo import DDPM_NAMES, NAMES, default_config, train_classifier, train_ddpm

    from ..zoo.cards import output_dir

    _setup_logging()
    out_dir = check_writable_dir(output_dir(out_dir, into_package), "--out-dir")
    command = _command_line(click.get_current_context())
    names = list(NAMES) if model_name == "all" else [model_name]
    for name in names:
        kw = dict(opts)
        if name not in DDPM_NAMES:
            kw.pop("sample_eval"), kw.pop("grid_seeds")
        if seed is not None:
            kw["seed"] = seed + default_config(name).seed if model_name == "all" else seed
        cfg = default_config(name, **kw)
        if name in DDPM_NAMES:
            res = train_ddpm(cfg, out_dir=out_dir, command=command)  # type: ignore[arg-type]
        else:
            res = train_classifier(cfg, out_dir=out_dir, command=command)  # type: ignore[arg-type]
        acc = "" if res.test_accuracy is None else f", test accuracy {res.test_accuracy:.4f}"
        early = " (stopped by --max-minutes)" if res.stopped_early else ""
        click.echo(f"{name}: {res.steps} steps{early}, final loss {res.final_loss:.4f}{acc}, "
                   f"{res.seconds:.0f}s -> {res.weights_path}")


@zoo.command("list")
@WEIGHTS_DIR
def list_models(weights_dir: Path | None) -> None:
    """List the zoo's models: whether their weights are present, file size, steps and test accuracy.

    \b
    Examples:
      doodl zoo list
      doodl zoo list --weights-dir /tmp/zoo
    """
    from ..zoo import NAMES, read_card, weights_path
    from ..zoo.registry import zoo_dir

    folder = zoo_dir(weights_dir)
    click.echo(f"zoo folder: {folder}")
    click.echo(f"{'name':<18} {'present':<8} {'size':>9} {'steps':>6} {'final loss':>10} {'test acc':>8}")
    total = 0
    for name in NAMES:
        path = weights_path(name, folder)
        size = path.stat().st_size if path.is_file() else 0
        total += size
        try:
            card = read_card(name, folder)
        except ValueError:
            card = None
        steps = str(card.steps) if card else "-"
        loss = f"{card.final_loss:.4f}" if card else "-"
        acc = f"{card.test_accuracy:.4f}" if card and card.test_accuracy is not None else "-"
        present = "yes" if size else "no"
        click.echo(f"{name:<18} {present:<8} {size / 1e6:>7.2f}MB {steps:>6} {loss:>10} {acc:>8}")
    click.echo(f"total {total / 1e6:.2f} MB")


@zoo.command("sample")
@click.argument("model", type=click.Choice(sorted(BACKEND_NAMES)))
@click.option("--seed", "--seeds", "seeds", type=SeedRange(), default="0-7", show_default=True,
              help="Seeds, e.g. 0-7 or 0,3,5 (--seeds is an alias).")
@click.option("--steps", type=click.IntRange(1, 1000), default=50, show_default=True, help="DDIM steps.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Grid PNG to write.")
@click.option("--class", "class_name", default=None,
              help="Conditional model: a class name or 0-9 [default: one row per class].")
@click.option("--guidance-scale", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Conditional model: classifier-free guidance scale (1 = plain conditional).")
@click.option("--scale", type=click.IntRange(1, 16), default=2, show_default=True, help="Upscale the grid.")
@DEVICE
@WEIGHTS_DIR
def sample_cmd(model: str, seeds: list[int], steps: int, out: Path, class_name: str | None, guidance_scale: float,
               scale: int, device: str, weights_dir: Path | None) -> None:
    """Sample a grid from a zoo DDPM with DDIM.

    \b
    Examples:
      doodl zoo sample fashion --seed 0-7 --steps 50 --out grid.png
      doodl zoo sample fashion-cond --out all-classes.png
      doodl zoo sample fashion-cond --class "ankle boot" --guidance-scale 3 --out boots.png
    """
    from ..data import CLASS_NAMES, class_index
    from ..io.atomic import check_writable_dir
    from ..io.images import save_png
    from ..zoo import load_fashion_backend
    from ..zoo.samples import sample_grid

    conditional = BACKEND_NAMES[model]
    if not conditional and (class_name is not None or guidance_scale != 1.0):
        raise UserError(f"--class and --guidance-scale need the conditional model (fashion-cond), not {model}")
    if out.suffix.lower() != ".png":
        raise UserError(f"--out must end in .png, got {str(out)!r}")
    check_writable_dir(out.parent, "--out")  # before any sampling: a bad path fails now, not after the work
    label = None if class_name is None else class_index(class_name)
    backend = load_fashion_backend(conditional, device, weights_dir=weights_dir)
    img = sample_grid(backend, steps=steps, class_label=label, guidance_scale=guidance_scale, seeds=seeds, scale=scale)
    meta = {"model": model, "seeds": seeds, "steps": steps, "sampler": "ddim",
            "class": None if label is None else CLASS_NAMES[label], "guidance_scale": guidance_scale}
    save_png(out, img, meta)
    click.echo(f"wrote {out} ({len(seeds)} seeds x {1 if label is not None or not conditional else 10} rows)")


@zoo.command("eval")
@click.option("--model", "model_name",
              type=click.Choice(["fashion-guide", "fashion-eval", "fashion-ddpm", "fashion-cond-ddpm", "all"]),
              default="all", show_default=True,
              help="Which model; 'all' is both classifiers, and the DDPMs too when --samples is given.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of the Fashion-MNIST IDX files [default: $DOODL_FASHION_MNIST, else Debian's folder].")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use the first N test images.")
@click.option("--samples", type=click.IntRange(min=2), default=None,
              help="DDPMs: FMNIST-FID of this many DDIM samples against the test images [default: 1000].")
@click.option("--steps", type=click.IntRange(min=1), default=50, show_default=True, help="DDPMs: DDIM steps.")
@click.option("--write-card", is_flag=True, help="DDPMs: store the sample metrics in the model card and README.")
@DEVICE
@WEIGHTS_DIR
def eval_cmd(model_name: str, data_dir: str | None, limit: int | None, samples: int | None, steps: int,
             write_card: bool, device: str, weights_dir: Path | None) -> None:
    """Test accuracy of the zoo's classifiers, and sample FMNIST-FID of its DDPMs, on the Fashion-MNIST test split.

    \b
    Examples:
      doodl zoo eval
      doodl zoo eval --model fashion-eval --limit 1000
      doodl zoo eval --model fashion-ddpm --samples 1000 --write-card
    """
    from ..data import load_fashion_mnist
    from ..zoo import CLASSIFIER_NAMES, DDPM_NAMES, classifier_accuracy, load_classifier, read_card

    images, labels = load_fashion_mnist("test", root=data_dir)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    if model_name == "all":
        names = list(CLASSIFIER_NAMES) + (list(DDPM_NAMES) if samples is not None else [])
    else:
        names = [model_name]
    if write_card and not set(names) & set(DDPM_NAMES):
        raise UserError("--write-card stores DDPM sample metrics: name a DDPM with --model, or give --samples")
    if set(names) & set(DDPM_NAMES) and (samples or 1000) > images.shape[0]:  # before any model runs
        raise UserError(f"--samples must be at most the number of test images ({images.shape[0]}), got {samples or 1000}")
    for name in names:
        if name in DDPM_NAMES:
            _eval_ddpm(name, images, samples or 1000, steps, write_card, device, weights_dir)
            continue
        model = load_classifier(name, device, weights_dir=weights_dir)
        acc = classifier_accuracy(model, images, labels)
        card = read_card(name, weights_dir)
        noted = "" if card is None or card.test_accuracy is None else f" (card: {card.test_accuracy:.4f})"
        click.echo(f"{name}: test accuracy {acc:.4f} on {images.shape[0]} images{noted}")


def _eval_ddpm(name: str, images, n: int, steps: int, write_card: bool, device: str, weights_dir: Path | None) -> None:
    """Sample metrics of one zoo DDPM (zoo.samples.sample_metrics), printed and optionally written to its card."""
    from ..data.fashion_mnist import as_float_images
    from ..zoo import load_classifier, load_fashion_backend, read_card, write_readme, zoo_dir
    from ..zoo.cards import write_card as save_card
    from ..zoo.samples import sample_metrics

    backend = load_fashion_backend(BACKEND_NAMES[name], device, weights_dir=weights_dir)
    metrics = sample_metrics(backend, load_classifier("fashion-eval", device, weights_dir=weights_dir),
                             as_float_images(images), n, steps)
    click.echo(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    if write_card:
        card = read_card(name, weights_dir)
        if card is None:
            raise UserError(f"no model card for {name} in {zoo_dir(weights_dir)}: nothing to write to")
        card.extra.pop("samples_error", None)
        card.extra["samples"] = metrics
        card.extra["samples_how"] = (f"`doodl zoo eval --model {name} --samples {n} --steps {steps}` on {device}: "
                                     f"DDIM {steps} steps vs the first {n} test images, fashion-eval features")
        save_card(card, zoo_dir(weights_dir))
        write_readme(weights_dir)
        click.echo(f"wrote the {name} card and README in {zoo_dir(weights_dir)}")


@zoo.command("cards")
@WEIGHTS_DIR
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="README to write: a .md file or a folder [default: the cards' folder, unless that is the package's].")
@click.option("--into-package", is_flag=True, help="Rewrite the README the installed package ships.")
def cards_cmd(weights_dir: Path | None, out: Path | None, into_package: bool) -> None:
    """Render the zoo README from the model cards.

    \b
    Examples:
      doodl zoo cards --out zoo.md
      doodl zoo cards --weights-dir /tmp/zoo
      doodl zoo cards --into-package
    """
    from ..zoo import write_readme
    from ..zoo.cards import output_dir

    if out is None:  # into the cards' own folder: fine for --weights-dir / $DOODL_ZOO_DIR, the package only if asked
        folder = output_dir(weights_dir, into_package, option="--out")
        click.echo(f"wrote {write_readme(folder)}")
        return
    click.echo(f"wrote {write_readme(weights_dir, out)}")
