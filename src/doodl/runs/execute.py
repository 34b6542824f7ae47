"""execute(spec, out_dir): load the model and guides, run DOODL or a baseline per seed batch, write every output."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..backends.base import Backend
from ..conditioning import Conditioning
from ..io import check_writable_dir, load_image
from .models import ModelCache, resolve_device, resolve_dtype
from .outputs import (image_metadata, package_versions, write_latents, write_loss_curve, write_run_json,
                      write_seed_files)
from .checks import check_finite_losses, check_steps_fit
from .heldout import HeldOut, build_heldout
from .record import RunRecord, SeedOutput, json_float
from ..schedules.steps import Step
from .spec import RunSpec

log = logging.getLogger(__name__)
Loss = Callable[[Tensor], Tensor]
StepHook = Callable[[dict[str, Any]], None]


@dataclass
class _SeedResult:
    seed: int
    image: Tensor  # (C, H, W)
    loss: float | None
    losses: list[float | None] = field(default_factory=list)
    best_step: int | None = None
    frames: list[Tensor] = field(default_factory=list)
    frame_steps: list[int] = field(default_factory=list)
    pair: tuple[Tensor, Tensor] | None = None  # DOODL: (x_T, y_T) that regenerates `image` (CPU, coupling dtype)


def check_inputs(spec: RunSpec) -> None:
    """Fail before loading any model when an input file is missing, unreadable or of an unusable mode."""
    if spec.image:
        load_image(spec.image, name="image to edit")
    for ref in spec.references:
        load_image(ref, name="reference image")
    c = spec.classifier or ""
    if ":" not in c and c.lower().endswith((".pt", ".pth", ".pt2")) and not Path(c).is_file():
        raise FileNotFoundError(f"--classifier file {c!r} not found (expected a TorchScript or torch.export file)")
    check_steps_fit(spec.model, spec.steps)


def conditioning(spec: RunSpec, backend: Backend, guidance_scale: float) -> dict[str, Any]:
    """Conditioning fields for backend.denoiser, chosen by what the backend accepts (never by its class).

    prompt: text models get it; on a model without text it only steers the text guides, and a one-line notice
    says so (the prompt is recorded either way). negative_prompt: an error on a model without text.
    guidance_scale: text models get it (the task default unless given; Flux-dev, whose guidance is a distilled
    embedding, keeps its own default unless given). A class-conditional model (the zoo's
    fashion-cond) samples unconditionally unless --guidance-scale is given, which then guides toward --class
    (required). An explicit --guidance-scale on a model without CFG is an error.
    """
    accepts = backend.accepts
    explicit = spec.guidance_scale is not None
    cond: dict[str, Any] = {}
    if "prompt" in accepts:
        cond["prompt"] = spec.prompt
    elif spec.prompt:
        log.warning("model %s takes no text prompt: the prompt only steers the guides (and is recorded)", spec.model)
    if spec.negative_prompt is not None:
        if "negative_prompt" not in accepts:
            raise ValueError(f"--negative-prompt: model {spec.model} ({backend.name}) takes no negative prompt")
        cond["negative_prompt"] = spec.negative_prompt
    if "guidance" in accepts and "guidance_scale" in accepts:  # Flux-dev: a distilled guidance embedding, not CFG;
        if explicit:                                            # the model's own default (3.5) unless given
            cond["guidance_scale"] = guidance_scale
    elif "guidance_scale" in accepts and "prompt" in accepts:  # text CFG, the task default unless given
        cond["guidance_scale"] = guidance_scale
    elif explicit:  # class CFG only when asked for: without it the zoo model samples unconditionally, as before
        if "class_label" not in accepts:
            raise ValueError(f"--guidance-scale: model {spec.model} ({backend.name}) has no classifier-free guidance")
        if spec.class_index is None:
            raise ValueError(f"--guidance-scale: model {spec.model} ({backend.name}) needs --class, the label to guide toward (doodl classify-guide takes one)")
        cond.update(class_label=spec.class_index, guidance_scale=guidance_scale)
    return cond


def _scorer_context(spec: RunSpec, backend: Backend, device: torch.device, dtype: torch.dtype, seed: int):
    from ..scorers.registry import ScorerContext

    return ScorerContext(prompt=spec.prompt or None, device=str(device), dtype=dtype,
                         image_size=int(backend.image_shape[-1]), crops=spec.crops, seed=seed)


def _edit_image(spec: RunSpec, backend: Backend) -> Tensor:
    c, h, w = backend.image_shape
    return load_image(spec.image, size=(h, w), channels=c, name="image to edit").to(backend.device)  # type: ignore[arg-type]


def _run_doodl(backend: Backend, loss: Loss, batch: tuple[int, ...], spec: RunSpec, settings: dict[str, Any],
               cond: dict[str, Any], init: tuple[Tensor, Tensor] | None, steps: list[Step] | None,
               bar: tqdm, on_step: StepHook | None = None) -> list[_SeedResult]:
    """DOODL (Algorithm 1) on one seed batch, keeping about max_iterates frames of the iterates."""
    from ..optimizer.loop import optimize

    m = settings["opt_steps"]
    every = max(1, math.ceil((m + 1) / spec.max_iterates))
    frames: list[tuple[int, Tensor]] = []
    seen = {"step": -1, "images": None}

    def callback(info: dict) -> None:
        step = info["step"]
        if step % every == 0 or step == m:
            frames.append((step, info["images"].detach().float().cpu()))
        seen["step"], seen["images"] = step, info["images"]
        bar.update(1)
        bar.set_postfix(seed=batch[0] if len(batch) == 1 else f"{batch[0]}-{batch[-1]}",
                        loss=f"{float(info['loss'].float().nanmean()):.4f}")
        if on_step is not None:  # may raise to cancel the run (the page's Cancel button does)
            on_step({"seeds": batch, "step": step, "opt_steps": m, "loss": [json_float(v) for v in info["loss"]],
                     "images": info["images"].detach().float().cpu()})

    if init is not None:
        init = (init[0].expand(len(batch), *init[0].shape[1:]), init[1].expand(len(batch), *init[1].shape[1:]))
    result = optimize(backend, loss, seed=list(batch), num_inference_steps=spec.steps, opt_steps=m,
                      config=spec.doodl_config(), init=init, steps=steps, callback=callback,
                      progress=False, **cond)
    if seen["step"] < m:  # stopped early (target_loss): keep the last iterate, finish the bar
        if not frames or frames[-1][0] != seen["step"]:
            frames.append((seen["step"], seen["images"].detach().float().cpu()))
        bar.update(m - seen["step"])
    out = []
    for b, s in enumerate(batch):
        out.append(_SeedResult(
            s, result.images[b].detach().float().cpu(), json_float(result.loss[b]),
            [json_float(h.loss[b]) for h in result.history],
            int(result.best_step[b]) if result.best_step is not None else None,
            [f[b] for _, f in frames], [st for st, _ in frames],
            (result.pair[0][b].detach().cpu(), result.pair[1][b].detach().cpu())))
    return out


def _stepping(model: Callable, bar: tqdm) -> Callable:
    """The denoiser, advancing the progress bar once per sampler step (one network call per step)."""
    def counted(x: Tensor, t: Any) -> Tensor:
        out = model(x, t)
        bar.update(1)
        return out

    return counted


def _run_baseline(backend: Backend, loss: Loss | None, batch: tuple[int, ...], spec: RunSpec, settings: dict[str, Any],
                  cond: dict[str, Any], start: Tensor | None, steps: list[Step] | None, bar: tqdm) -> list[_SeedResult]:
    """Vanilla sampling or one-step classifier guidance (§3.2.1); for edit, from the DDIM-inverted image."""
    from ..guidance.one_step import one_step_guidance
    from ..optimizer.baselines import sample
    from ..samplers.ddim import ddim_sample

    scale = settings["one_step_scale"]
    if start is None:
        images = sample(backend, seed=list(batch), num_inference_steps=spec.steps, method=spec.method,  # type: ignore[arg-type]
                        loss=loss, scale=scale, callback=lambda info: bar.update(1), **cond).images
    else:
        assert steps is not None
        model = backend.denoiser(Conditioning.from_kwargs(**cond))
        if spec.method == "one_step":
            assert loss is not None
            model = one_step_guidance(model, loss, backend.decode, steps, scale)
        model = _stepping(model, bar)
        with torch.no_grad():
            x0 = ddim_sample(model, start.expand(len(batch), *start.shape[1:]), steps, model_dtype=backend.dtype)
            images = backend.decode(x0)
    if loss is None:  # vanilla sampling without a guide: nothing to score
        return [_SeedResult(s, images[b].detach().float().cpu(), None) for b, s in enumerate(batch)]
    with torch.no_grad():
        final = loss(images)
    bar.set_postfix(seed=batch[0], loss=f"{float(final.float().nanmean()):.4f}")
    return [_SeedResult(s, images[b].detach().float().cpu(), json_float(final[b])) for b, s in enumerate(batch)]


def chain_record(spec: RunSpec, backend: Backend, steps: list[Step] | None) -> dict[str, Any]:
    """What regenerates a DOODL image from its latents-<s>.pt pair: edict_sample over
    backend.steps(num_inference_steps)[first_step:] with this mix, leapfrog and coupling dtype, on the run's model
    and conditioning (prompt, negative_prompt, guidance_scale)."""
    from ..optimizer.config import coupling_dtype_for

    cfg = spec.doodl_config()
    chain = list(steps) if steps is not None else backend.steps(spec.steps)
    return {"num_inference_steps": spec.steps, "first_step": chain[0].index, "timesteps": [s.t for s in chain],
            "mix": cfg.mix, "leapfrog": cfg.leapfrog,
            "coupling_dtype": str(coupling_dtype_for(backend.device, cfg.coupling_dtype)).removeprefix("torch.")}


def _edit_start(spec: RunSpec, backend: Backend, cond: dict[str, Any], invert_to: int):
    """Invert the image: exactly with EDICT for DOODL (§5.3), with DDIM for the baselines."""
    from ..optimizer.editing import invert_image, tail_steps
    from ..samplers.ddim import ddim_invert

    image = _edit_image(spec, backend)
    if spec.method == "doodl":
        cfg = spec.doodl_config()
        inv = invert_image(backend, image, num_inference_steps=spec.steps, invert_to=invert_to, mix=cfg.mix,
                           leapfrog=cfg.leapfrog, dtype=cfg.coupling_dtype, **cond)
        return (inv.x, inv.y), inv.steps
    steps = tail_steps(backend.steps(spec.steps), invert_to)
    with torch.no_grad():
        z0 = backend.encode(image).float()
        x = ddim_invert(backend.denoiser(Conditioning.from_kwargs(**cond)), z0, steps, model_dtype=backend.dtype)
    return x, steps


def execute(spec: RunSpec, out_dir: str | Path, *, progress: bool = True, models: ModelCache | None = None,
            on_step: StepHook | None = None, heldout: bool = True) -> RunRecord:
    """Run one RunSpec end to end and write its outputs under out_dir (created if missing), each file atomically.

    Files: seed-<s>.png per seed (metadata: prompt, seed, every option, versions); for DOODL also
    iterates-<s>.png / .gif and loss.png; run.json with the record. `models` shares loaded models across runs.
    on_step(info) is called after each DOODL evaluation (seeds, step, opt_steps, loss, images) and once per
    baseline batch; an exception it raises stops the run. heldout: score the rewards not optimised (runs.heldout).
    """
    start_time = time.perf_counter()
    if not isinstance(spec, RunSpec):
        raise ValueError(f"spec must be a RunSpec, got {type(spec).__name__}")
    out = check_writable_dir(out_dir)
    check_inputs(spec)
    cache = models if models is not None else ModelCache()
    device, dtype = resolve_device(spec.device), resolve_dtype(spec.dtype)
    settings = spec.resolved()
    guides = spec.resolved_guides()
    backend = cache.backend(spec, device, dtype)
    cond = conditioning(spec, backend, settings["guidance_scale"])
    if "guidance_scale" not in cond:
        settings["guidance_scale"] = None
    settings.update(device=str(device), dtype=str(dtype).removeprefix("torch."),
                    guides=[{"name": g.name, "weight": g.weight, "options": dict(g.options)} for g in guides])
    init, start, steps = None, None, None
    if spec.task == "edit":
        if spec.method == "doodl":
            init, steps = _edit_start(spec, backend, cond, settings["invert_to"])
        else:
            start, steps = _edit_start(spec, backend, cond, settings["invert_to"])
    if spec.method == "doodl":
        settings["chain"] = chain_record(spec, backend, steps)
    batches = [spec.seeds[i : i + spec.batch_size] for i in range(0, len(spec.seeds), spec.batch_size)]
    n_sampler = len(steps) if steps is not None else spec.steps
    per_batch = settings["opt_steps"] + 1 if spec.method == "doodl" else n_sampler
    record_fields = {"spec": spec.to_dict(), "settings": settings, "versions": package_versions()}
    results: list[_SeedResult] = []
    outputs: list[SeedOutput] = []
    judges: HeldOut | None = None
    cond_is_text = "prompt" in backend.accepts
    with tqdm(total=len(batches) * per_batch, desc=f"{spec.task} ({spec.method})", unit="step",
              disable=not progress, dynamic_ncols=True) as bar:
        for batch in batches:
            context = _scorer_context(spec, backend, device, dtype, batch[0])
            loss = cache.loss(guides, context) if guides else None
            if spec.method == "doodl":
                assert loss is not None  # RunSpec gives DOODL a guide
                done = _run_doodl(backend, loss, batch, spec, settings, cond, init, steps, bar, on_step)
            else:
                done = _run_baseline(backend, loss, batch, spec, settings, cond, start, steps, bar)
                if on_step is not None:
                    on_step({"seeds": batch, "step": 0, "opt_steps": 0, "loss": [r.loss for r in done],
                             "images": torch.stack([r.image for r in done])})
            if loss is not None:  # one rule for the CLI and batch: a non-finite loss is a failed run
                check_finite_losses([r.seed for r in done], [r.loss for r in done])
            if heldout:
                judges = judges or build_heldout(guides, context, cache, not cond_is_text)
                _score_heldout(judges, batch, done, device)
            outputs += [_write_seed(out, r, record_fields) for r in done]  # finished seeds survive a later failure
            results += done
    seconds = time.perf_counter() - start_time
    curve = write_loss_curve(out, [r.losses for r in results], spec.seeds) if spec.method == "doodl" else None
    record = RunRecord(spec, torch.stack([r.image for r in results]), outputs, settings, record_fields["versions"],
                       seconds, out, curve, heldout=judges.to_dict() if judges is not None else {})
    write_run_json(out, record)
    log.info("wrote %d image(s) to %s in %.1fs", len(outputs), out, seconds)
    return record


def _score_heldout(judges: HeldOut, batch: tuple[int, ...], done: list[_SeedResult], device: torch.device) -> None:
    """Held-out rewards of the batch: before = DOODL's step-0 draw (none for the baselines), after = the result."""
    after = torch.stack([r.image for r in done]).to(device)
    first = [r.frames[0] for r in done if r.frames and r.frame_steps[0] == 0]
    before = torch.stack(first).to(device) if len(first) == len(done) else None
    judges.score(batch, before, after)


def _write_seed(out: Path, r: _SeedResult, record_fields: dict[str, Any]) -> SeedOutput:
    """Write one seed's image (with metadata), strip and GIF; drop its frames from memory."""
    meta = image_metadata(record_fields, r.seed, r.loss, r.best_step)
    image, strip, gif = write_seed_files(out, r.seed, r.image, r.frames, r.frame_steps, meta)
    latents = write_latents(out, r.seed, r.pair) if r.pair is not None else None
    r.frames = []
    return SeedOutput(r.seed, r.loss, image, r.losses, r.best_step, r.frame_steps, strip, gif, latents)
