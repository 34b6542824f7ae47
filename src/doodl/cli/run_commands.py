"""`doodl generate | personalize | edit | classify-guide`: the four DOODL applications (§5.1-5.4), one command each."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from ..io import check_writable_dir
from ..io.jsontext import json_text
from ..runs import RunRecord, RunSpec, execute
from ..runs.execute import check_inputs
from ..runs.outputs import prepare_out_dir
from ..runs.defaults import COUPLING_DTYPES, DEFAULT_CLASSIFIER, DEFAULT_MODEL, DTYPES, GRAD_MODES
from .logs import silence_third_party
from .options import MethodChoice, SeedRange

GUIDE_HELP = ("Scorer to optimise, NAME[:WEIGHT][,KEY=VALUE...]; repeat to combine (weighted sum). Names: clip-text, "
              "clip-image, aesthetic, classifier, brightness, pickscore, hps, image-reward.")


class OutOfMemory(click.ClickException):
    """The device ran out of memory: one line naming the memory-saving options, exit code 3."""

    exit_code = 3


def _parse_set(items: tuple[str, ...]) -> dict[str, Any]:
    """--set KEY=VALUE pairs -> DoodlConfig options; values read as JSON (numbers, true, null), else as text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set must look like KEY=VALUE (e.g. momentum=0.8), got {item!r}")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip().replace("-", "_")] = value.strip()
    return out


def common_options(f: Callable) -> Callable:
    """The options every task command shares (model, guides, method, seeds, optimisation, device, output)."""
    options = [
        click.option("--model", default=DEFAULT_MODEL, show_default=True, metavar="ID_OR_FOLDER",
                     help="Stable Diffusion hub id or save_pretrained folder (offline: a local folder), or a zoo "
                          "short name (fashion)."),
        click.option("--guide", "guides", multiple=True, metavar="SPEC", help=GUIDE_HELP),
        click.option("--method", type=MethodChoice(["doodl", "one-step", "vanilla"]), default="doodl",
                     show_default=True, help="DOODL, or the baselines: one-step classifier guidance, plain sampling."),
        click.option("--seed", "seeds", type=SeedRange(), default="0", show_default=True,
                     help="Seeds such as 0-3 or 0,5,7; one output image per seed."),
        click.option("--steps", type=click.IntRange(min=1), default=50, show_default=True, help="Sampler steps T (§4: 50)."),
        click.option("--opt-steps", type=click.IntRange(min=0), default=None,
                     help="DOODL updates m [default: 20; personalize 100 (§5.4)]."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="DOODL learning rate [default: the paper's per task: 0.1, 3, 1, 0.05]."),
        click.option("--guidance-scale", type=click.FloatRange(min=0), default=None,
                     help="Classifier-free guidance scale [default: 7.5; edit 1]."),
        click.option("--one-step-scale", type=click.FloatRange(min=0), default=None,
                     help="Scale of the one-step baseline [default: 30 (§5.1); classify-guide 5 (§5.2)]."),
        click.option("--negative-prompt", default=None, help="Text for CFG's unconditional branch."),
        click.option("--clip-model", "clip_models", multiple=True, metavar="ID_OR_FOLDER",
                     help="CLIP for the CLIP guides: hub id, local folder or alias (vit-b-32, vit-l-14, vit-g-14, "
                          "openai-vit-l-14); repeat for an ensemble."),
        click.option("--clip-weight", "clip_weights", multiple=True, type=float,
                     help="Ensemble weight, one per --clip-model (§5.4: 0.5, 0.25, 0.25)."),
        click.option("--crops", type=click.IntRange(min=0), default=16, show_default=True,
                     help="Random crops per image for the scorer (§4: 16); 0 = none."),
        click.option("--grad-mode", type=click.Choice(GRAD_MODES), default="reversible", show_default=True,
                     help="Backward through EDICT: reversible (memory constant in T), checkpoint, naive."),
        click.option("--height", type=click.IntRange(min=8), default=None, help="Image height (Stable Diffusion)."),
        click.option("--width", type=click.IntRange(min=8), default=None, help="Image width (Stable Diffusion)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Seeds optimised together (more: faster on a large GPU, more memory)."),
        click.option("--low-memory", is_flag=True, help="VAE slicing and UNet gradient checkpointing (Stable Diffusion)."),
        click.option("--set", "doodl_set", multiple=True, metavar="KEY=VALUE",
                     help="Other DOODL options: momentum, mix, perturb_std, optimizer, target_loss, select (last|best), typical_clamp, ..."),
        click.option("--dtype", type=click.Choice(DTYPES), default="float32", show_default=True,
                     help="Network dtype; float16 halves GPU memory."),
        click.option("--coupling-dtype", type=click.Choice(COUPLING_DTYPES), default="auto", show_default=True,
                     help="EDICT's coupling arithmetic (the network keeps --dtype): auto = float64 where the device "
                          "has it (exact inversion; MPS: float32)."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Output folder, created if missing; must be empty [default: outputs/<command>]."),
        click.option("--overwrite", is_flag=True,
                     help="Reuse a non-empty --out: the previous run's files there are removed first."),
        click.option("--quiet", "-q", is_flag=True,
                     help="No progress bars or library warnings; print only the image paths."),
        click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON on stdout."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _setup_logging(quiet: bool) -> None:
    """Library warnings on stderr, once; --quiet also silences third-party logging, warnings and loading bars."""
    log = logging.getLogger("doodl")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.ERROR if quiet else logging.WARNING)
    if quiet:
        silence_third_party()


def _summary(record: RunRecord) -> str:
    """A short human summary: one line per seed with its final loss and image path."""
    lines = [f"wrote {len(record.outputs)} image(s) to {record.out_dir} in {record.seconds:.1f}s"]
    for o in record.outputs:
        loss = "no guide" if o.loss is None else f"loss {o.loss:.4f}"  # non-finite losses fail the run
        first = o.losses[0] if o.losses else None
        extra = f" (initial {first:.4f}, best step {o.best_step})" if first is not None else ""
        lines.append(f"  seed {o.seed}: {loss}{extra}  {o.image}")
    if record.loss_curve:
        lines.append(f"  loss curve: {record.loss_curve}")
    lines.append(f"  record: {record.run_json}")
    return "\n".join(lines)


def run_task(task: str, params: dict[str, Any], **fields: Any) -> RunRecord:
    """Build the RunSpec from the command's options, check --out, execute, and print the summary or JSON."""
    out = params.pop("out") or Path("outputs") / task
    quiet, as_json, overwrite = params.pop("quiet"), params.pop("as_json"), params.pop("overwrite")
    params["doodl_options"] = _parse_set(params.pop("doodl_set"))
    spec = RunSpec(task=task, **params, **fields)
    check_inputs(spec)  # input files and --steps, before any model is loaded
    prepare_out_dir(check_writable_dir(out, "--out"), overwrite)
    _setup_logging(quiet)
    try:
        record = execute(spec, out, progress=not quiet)
    except RuntimeError as e:
        if "out of memory" not in str(e).lower() or os.environ.get("DOODL_DEBUG"):
            raise
        raise OutOfMemory(f"out of memory on {spec.device}. Try --low-memory (VAE slicing, UNet checkpointing), "
                          "--dtype float16, --batch-size 1, fewer --crops or a smaller --height/--width; "
                          "--grad-mode reversible (the default) keeps memory independent of --steps") from None
    if as_json:
        click.echo(json_text(record.to_dict(), "--json record", indent=2))
    elif quiet:
        click.echo("\n".join(str(o.image) for o in record.outputs))
    else:
        click.echo(_summary(record))
    return record


@click.command("generate")
@click.argument("prompt")
@common_options
def generate(prompt: str, **params: Any) -> None:
    """Generate from PROMPT with CLIP guidance toward it (§5.1), or toward other --guide terms.

    \b
    Examples:
      doodl generate "a red cube on top of a blue sphere" --seed 0-3 --out cubes
      doodl generate "a kangaroo in a field" --model ./sd-v1-4 --clip-model ./clip-vit-g-14
      doodl generate "a cat" --guide clip-text,prompt="a tabby cat" --guide aesthetic:0.1
      doodl generate "a kangaroo in a field" --method one-step --out baseline
    """
    run_task("generate", params, prompt=prompt)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def check_prompt_is_text(prompt: str, references: tuple[str, ...]) -> None:
    """personalize's last argument is the prompt: one naming an existing image file means the prompt was forgotten."""
    p = Path(prompt).expanduser()
    if prompt.lower().endswith(IMAGE_SUFFIXES) or p.is_file():
        if p.is_file():
            raise click.UsageError(f"personalize needs a PROMPT after the reference images; {prompt!r} is an image "
                                   f"file (references: {', '.join(references) or 'none'}). Example: "
                                   f"doodl personalize {' '.join(references + (prompt,))} \"a dog swimming\"")
        raise click.UsageError(f"personalize: the prompt {prompt!r} looks like an image file name but no such file "
                               "exists; the last argument is the text prompt")


@click.command("personalize")
@click.argument("references", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.argument("prompt")
@common_options
def personalize(references: tuple[str, ...], prompt: str, **params: Any) -> None:
    """Generate PROMPT with CLIP-image guidance toward REFERENCES (§5.4; default: the paper's 3-CLIP ensemble).

    \b
    Examples:
      doodl personalize dog.jpg "a dog swimming" --seed 0-5
      doodl personalize dog1.jpg dog2.jpg "a dog wearing sunglasses" \\
          --clip-model vit-b-32 --clip-weight 0.5 --clip-model vit-l-14 --clip-weight 0.25 \\
          --clip-model vit-g-14 --clip-weight 0.25
    """
    check_prompt_is_text(prompt, references)
    run_task("personalize", params, prompt=prompt, references=references)


@click.command("edit")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--target", type=float, default=None, help="Aesthetic rating to move toward, 1-10 [default: 10] (§5.3).")
@click.option("--invert-to", type=int, default=None,
              help="Sampler steps to undo when inverting (1..--steps) [default: all for DOODL (§5.3), half for baselines].")
@click.option("--prompt", default="", help="Text conditioning for inversion and editing [default: none, as §5.3].")
@common_options
def edit(image: str, target: float | None, invert_to: int | None, prompt: str, **params: Any) -> None:
    """Edit IMAGE: invert it exactly with EDICT, then optimise it (default --guide aesthetic, §5.3).

    \b
    Examples:
      doodl edit photo.jpg --target 10 --out prettier
      doodl edit photo.jpg --target 1 --invert-to 25 --out uglier
      doodl edit photo.jpg --guide clip-text,prompt="a watercolor painting" --lr 0.1
    """
    run_task("edit", params, image=image, target=target, invert_to=invert_to, prompt=prompt)


@click.command("classify-guide")
@click.argument("prompt", required=False, default="")
@click.option("--classifier", default=None, metavar="NAME|FILE|MODULE:CALLABLE",
              help="efficientnet-lite0 (ImageNet), fashion-guide (zoo), a TorchScript file or an importable module:callable "
                   f"[default: {DEFAULT_CLASSIFIER}; fashion-guide on a zoo --model].")
@click.option("--class", "class_", required=True, metavar="INDEX",
              help="Target class index (ImageNet 0-999); zoo classifiers also take names (sneaker).")
@common_options
def classify_guide(prompt: str, classifier: str, class_: str, **params: Any) -> None:
    """Generate PROMPT guided by an image classifier toward --class (§5.2).

    \b
    Examples:
      doodl classify-guide --class 207 "a dog"
      doodl classify-guide --classifier bird_classifier.pt --class 12 "a bird"
      doodl classify-guide --classifier mypkg.models:build --class 3 "an aircraft"
      doodl classify-guide --model fashion --classifier fashion-guide --class sneaker --seed 0-7
    """
    run_task("classify-guide", params, prompt=prompt, classifier=classifier, class_index=class_)


COMMANDS = (generate, personalize, edit, classify_guide)
