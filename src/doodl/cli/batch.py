"""`doodl batch`: many jobs (a JSONL file or DrawBench) across processes, GPUs and nodes, resumable."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from .errors import UserError
from .options import SeedRange, parse_guide

log = logging.getLogger(__name__)


class _CurrentStderr(logging.StreamHandler):
    """A log handler writing to sys.stderr as it is at each record (not as it was when the handler was made)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # the base class sets it once; ignore
        pass


def _setup_logging(rank: int, quiet: bool) -> None:
    """Library log lines on stderr with the rank in front (warnings only with --quiet)."""
    logger = logging.getLogger("doodl")
    handler = next((h for h in logger.handlers if isinstance(h, _CurrentStderr)), None)
    if handler is None:
        handler = _CurrentStderr()
        logger.addHandler(handler)
    handler.setFormatter(logging.Formatter(f"%(asctime)s [rank {rank}] %(message)s", "%H:%M:%S"))
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def parse_setting(text: str) -> tuple[str, Any]:
    """'steps=50' -> ('steps', 50): the value is read as JSON when it parses, else kept as a string."""
    key, sep, value = str(text).partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise ValueError(f"--set must look like KEY=VALUE (e.g. steps=50), got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _guide_dict(text: str) -> dict[str, Any]:
    g = parse_guide(text)
    return {"name": g.name, "weight": g.weight, "options": dict(g.options)}


def _load_jobs(jobs_file: Path | None, drawbench: str | None, seeds: list[int], methods: str, model: str | None,
               guides: tuple[str, ...], settings: tuple[str, ...], executor: Any, skip_invalid: bool):
    from ..batch import drawbench_jobs, read_jobs

    if (jobs_file is None) == (drawbench is None):
        raise UserError("give either a JOBS file or --drawbench CATEGORIES (not both)")
    if jobs_file is not None:
        if settings or guides or model:
            raise UserError("--model, --guide and --set apply to --drawbench; put options in the JOBS lines instead")
        return read_jobs(jobs_file, executor, skip_invalid=skip_invalid)
    if not model:
        raise UserError("--drawbench needs --model (a hub id, a local folder or a registered backend name)")
    base: dict[str, Any] = dict(parse_setting(s) for s in settings)
    base["model"] = model
    if guides:  # none: each method's task default (generate: clip-text toward the prompt, §5.1)
        base["guides"] = [_guide_dict(g) for g in guides]
    return drawbench_jobs(drawbench, seeds, methods.split(","), base, executor)


@click.command("batch")
@click.argument("jobs_file", metavar="[JOBS]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: jobs/<id>/ per job, manifest.rank<k>.jsonl, summary.json, summary.md.")
@click.option("--drawbench", default=None, metavar="CATEGORIES",
              help="DrawBench categories instead of a JOBS file, e.g. 'DALL-E,Reddit' (DOODL §5.1) or 'all'.")
@click.option("--seed", "--seeds", "seeds", type=SeedRange(), default="0-8", show_default=True,
              help="Seeds per DrawBench prompt and method, e.g. 0-8 (the paper uses 9); --seeds is an alias.")
@click.option("--method", "--methods", "methods", default="doodl,one-step,vanilla", show_default=True,
              help="DrawBench methods, comma-separated: any of doodl, one-step, vanilla (one_step also accepted); "
                   "--methods is an alias.")
@click.option("--model", default=None, help="DrawBench: the diffusion model (hub id, local folder or backend name).")
@click.option("--guide", "guides", multiple=True, metavar="NAME[:W][,k=v]",
              help="DrawBench: a guide, repeatable [default: clip-text toward each prompt].")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="DrawBench: another run option for every job, repeatable (e.g. --set steps=50 --set opt_steps=50).")
@click.option("--skip-invalid", is_flag=True, help="Skip malformed JOBS lines (each is reported) and run the rest.")
@click.option("--clip-model", default=None, metavar="ID_OR_FOLDER",
              help="CLIP model for the summary's CLIP score (paper: an OpenAI CLIP, e.g. openai-vit-l-14).")
@click.option("--quiet", is_flag=True, help="No progress bars or info lines; only warnings and the final line.")
@click.option("--executor", "executor_target", default=None, hidden=True,
              help="module:callable returning an executor (tests and custom pipelines).")
def batch(jobs_file: Path | None, out_dir: Path, drawbench: str | None, seeds: list[int], methods: str,
          model: str | None, guides: tuple[str, ...], settings: tuple[str, ...], skip_invalid: bool,
          clip_model: str | None, quiet: bool, executor_target: str | None) -> None:
    """Run many jobs, skipping finished ones; spread over processes with torchrun or accelerate launch.

    JOBS is a JSONL file, one run per line: the options of a single run (prompt or class_index, model, guides
    with weights, method doodl / one-step / vanilla, seed or seeds, steps, ...) plus an optional category for the
    summary. A line with several seeds becomes one job per seed. Jobs are named by a hash of their content:
    running the same command again skips finished jobs, retries failed ones, and after an edit of JOBS runs only
    what changed. A failed job (bad prompt, non-finite loss, missing model) is recorded in the manifest with its
    error and the batch goes on; the exit status is 0 unless the batch itself could not run.

    \b
    Examples:
      doodl batch jobs.jsonl --out runs/b1
      torchrun --nproc_per_node 8 -m doodl.cli batch jobs.jsonl --out runs/b1
      accelerate launch -m doodl.cli batch jobs.jsonl --out runs/b1 --clip-model openai-vit-l-14
      doodl batch --drawbench DALL-E,Reddit --seed 0-8 --method doodl,one-step,vanilla \\
          --model runwayml/stable-diffusion-v1-5 --guide clip-text --set opt_steps=50 --out runs/drawbench
    \b
    A JOBS line:
      {"prompt": "a red cube on a blue sphere", "model": "sd-folder", "method": "doodl",
       "guides": ["clip-text:1"], "seeds": "0-3", "category": "colors"}
    """
    from ..batch import init_world, load_executor, read_manifest, run_batch, summarize, write_summary
    from ..batch.summary import summary_lock
    from ..io.atomic import check_writable_dir

    world = init_world()
    _setup_logging(world.rank, quiet)
    try:
        if world.is_main:
            check_writable_dir(out_dir)
        executor = load_executor(executor_target)
        job_list = _load_jobs(jobs_file, drawbench, seeds, methods, model, guides, settings, executor, skip_invalid)
        if world.is_main:
            for msg in job_list.invalid:
                click.echo(f"skipped {msg}", err=True)
        if not job_list.jobs:
            raise UserError("no valid jobs to run")
        clip = _load_clip(clip_model) if world.is_main and clip_model else None
        from tqdm.contrib.logging import logging_redirect_tqdm

        with logging_redirect_tqdm(loggers=[logging.getLogger("doodl")]):
            result = run_batch(job_list.jobs, out_dir, executor, world=world, progress=not quiet,
                               invalid=len(job_list.invalid))
        if world.is_main:
            eval_model, reference, eval_name = _zoo_evaluators(job_list.jobs)
            if clip is not None:
                _to_best_device(clip.model)
            with summary_lock(out_dir):  # the manifest read and the summary written as one step across workers
                summary = summarize(job_list.jobs, read_manifest(out_dir), out_dir, clip=clip, eval_model=eval_model,
                                    reference=reference, clip_model=clip_model, eval_classifier=eval_name)
                js, _ = write_summary(summary, out_dir)
            if not quiet:
                click.echo(f"summary: {js}")
            click.echo(result.line())
    finally:
        world.close()


def _load_clip(name: str) -> Any:
    """The summary's CLIP, loaded before any job runs so a wrong name fails at once (on CPU until needed)."""
    from ..scorers import load_clip

    return load_clip(name, "cpu")


def _to_best_device(model: Any) -> None:
    import torch

    if torch.cuda.is_available():
        model.to("cuda")


def _zoo_evaluators(jobs: list) -> tuple[Any, Any, str | None]:
    """fashion-eval and the real test images, when some jobs target a zoo class and both can be had."""
    from ..batch.summary import is_class_target

    if not any(is_class_target(j.spec) for j in jobs):
        return None, None, None
    try:
        from ..zoo import load_classifier

        eval_model = load_classifier("fashion-eval")
    except (FileNotFoundError, ValueError) as e:
        click.echo(f"warning: no target accuracy or FMNIST-FID ({e})", err=True)
        return None, None, None
    try:
        from ..batch import fashion_reference

        reference = fashion_reference("test")
    except (FileNotFoundError, ValueError) as e:
        click.echo(f"warning: no FMNIST-FID, the Fashion-MNIST test images are missing ({e})", err=True)
        reference = None
    return eval_model, reference, "fashion-eval"

