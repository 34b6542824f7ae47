"""Batch summary per category and method: mean CLIP score (Hessel et al. 2021), final loss and seconds, and for the
zoo's class-target jobs target accuracy and FMNIST-FID; written as DIR/summary.json and DIR/summary.md."""

from __future__ import annotations

import logging
import math
import os
from contextlib import contextmanager
from typing import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from ..evaluation.metrics import clip_score
from ..io.atomic import atomic_write_text
from ..io.jsontext import metrics_json
from ..io.images import load_image
from .jobs import Job
from .manifest import ManifestRecord
from .runner import JOBS_DIR, is_done, job_dir

log = logging.getLogger(__name__)

# zoo DDPMs (and their short names) whose class-target jobs get target accuracy and FMNIST-FID
ZOO_MODELS = ("fashion", "fashion-ddpm", "fashion-cond", "fashion-cond-ddpm")
Reference = Callable[[Sequence[int]], Tensor]  # classes -> real images (N, 1, 28, 28) in [0, 1]


@dataclass
class JobRow:
    """One job's line in summary.json."""

    id: str
    category: str
    method: str
    seed: int | None
    prompt: str | None
    status: str  # 'done', 'failed' or 'pending'
    loss: float | None = None
    seconds: float | None = None
    clip_score: float | None = None
    target_class: int | None = None
    target_hit: bool | None = None  # the evaluation classifier predicts target_class
    error: str | None = None
    path: str | None = None  # the job's folder, relative to DIR


@dataclass
class GroupRow:
    """Aggregate over one (category, method) pair; means over done jobs with the value."""

    category: str
    method: str
    jobs: int = 0
    done: int = 0
    failed: int = 0
    pending: int = 0
    clip_score: float | None = None
    loss: float | None = None
    seconds: float | None = None
    target_accuracy: float | None = None
    fmnist_fid: float | None = None


@dataclass
class Summary:
    """The whole summary: groups, per-job rows, and which evaluators were used."""

    groups: list[GroupRow] = field(default_factory=list)
    jobs: list[JobRow] = field(default_factory=list)
    clip_model: str | None = None
    eval_classifier: str | None = None

    def totals(self) -> dict[str, int]:
        """Counts of jobs by status."""
        out = {"jobs": len(self.jobs), "done": 0, "failed": 0, "pending": 0}
        for r in self.jobs:
            out[r.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes null)."""
        return _clean({"totals": self.totals(), "clip_model": self.clip_model, "eval_classifier": self.eval_classifier,
                       "groups": [asdict(g) for g in self.groups], "jobs": [asdict(j) for j in self.jobs]})


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else None


def job_images(out_dir: str | os.PathLike, job_id: str) -> list[Path]:
    """The generated images of a finished job: seed-*.png in its folder, sorted."""
    return sorted(job_dir(out_dir, job_id).glob("seed-*.png"))


def is_class_target(spec: Mapping[str, Any]) -> bool:
    """A zoo job steered toward a Fashion-MNIST class (class_index set, model a zoo DDPM)."""
    return spec.get("class_index") is not None and spec.get("model") in ZOO_MODELS


def _seed(spec: Mapping[str, Any]) -> int | None:
    seeds = spec.get("seeds")
    return int(seeds[0]) if isinstance(seeds, (list, tuple)) and seeds else None


@torch.no_grad()
def _clip_scores(rows: list[JobRow], out_dir: Path, clip: Any) -> None:
    """CLIP score of each done job's images with its prompt (mean over its images) into the rows."""
    for row in rows:
        paths = job_images(out_dir, row.id)
        if row.status != "done" or not row.prompt or not paths:
            continue
        images = torch.cat([load_image(p, channels=3) for p in paths])
        img = clip.embed_images(images).double()
        txt = clip.embed_text([row.prompt]).double().expand_as(img)
        row.clip_score = float(clip_score(img, txt).mean())


def _fashion_images(out_dir: Path, job_id: str) -> Tensor | None:
    paths = job_images(out_dir, job_id)
    if not paths:
        return None
    images = torch.cat([load_image(p, channels=1) for p in paths])
    return images if tuple(images.shape[1:]) == (1, 28, 28) else None


@torch.no_grad()
def _zoo_metrics(jobs: list[Job], rows: list[JobRow], groups: dict[tuple[str, str], GroupRow], out_dir: Path,
                 eval_model: nn.Module, reference: Reference | None) -> None:
    """Target hits per job; target accuracy and FMNIST-FID (against real images of the group's classes) per group."""
    from ..zoo.fid import fmnist_fid, predict

    per_group: dict[tuple[str, str], list[tuple[Tensor, int]]] = {}
    for job, row in zip(jobs, rows, strict=True):
        if row.status != "done" or not is_class_target(job.spec):
            continue
        images = _fashion_images(out_dir, job.id)
        if images is None:
            continue
        target = int(job.spec["class_index"])
        row.target_hit = bool((predict(images, eval_model) == target).all())
        per_group.setdefault((row.category, row.method), []).append((images, target))
    for key, items in per_group.items():
        images = torch.cat([im for im, _ in items])
        targets = torch.cat([torch.full((im.shape[0],), t) for im, t in items])
        groups[key].target_accuracy = float((predict(images, eval_model) == targets).double().mean())
        if reference is not None and images.shape[0] >= 2:
            groups[key].fmnist_fid = fmnist_fid(images, reference(sorted(set(targets.tolist()))), eval_model)


def summarize(jobs: Sequence[Job], records: Mapping[str, ManifestRecord], out_dir: str | os.PathLike, *,
              clip: Any | None = None, eval_model: nn.Module | None = None, reference: Reference | None = None,
              clip_model: str | None = None, eval_classifier: str | None = None) -> Summary:
    """Join the jobs with their manifest records and evaluate finished jobs from their saved PNGs.

    clip: a ClipEmbedder (embed_images / embed_text) for CLIP scores; eval_model: the zoo's evaluation classifier
    for class-target jobs; reference: real images per class for FMNIST-FID. Any of them may be None.
    """
    out = Path(out_dir)
    rows: list[JobRow] = []
    groups: dict[tuple[str, str], GroupRow] = {}
    for job in jobs:
        rec = records.get(job.id)
        status = "done" if is_done(out, job.id, records) else ("failed" if rec and rec.status == "failed" else "pending")
        rec = rec if status != "pending" else None  # a done job whose folder was deleted: pending again
        method = str(job.spec.get("method", ""))
        prompt = job.spec.get("prompt")
        cls = job.spec.get("class_index")
        row = JobRow(job.id, job.category, method, _seed(job.spec), prompt if isinstance(prompt, str) else None, status,
                     loss=rec.metrics.get("loss") if rec else None, seconds=rec.seconds if rec else None,
                     target_class=int(cls) if cls is not None else None, error=rec.error if rec else None,
                     path=f"{JOBS_DIR}/{job.id}" if status == "done" else None)
        rows.append(row)
        g = groups.setdefault((job.category, method), GroupRow(job.category, method))
        g.jobs += 1
        setattr(g, status, getattr(g, status) + 1)
    if clip is not None:
        _clip_scores(rows, out, clip)
    if eval_model is not None:
        _zoo_metrics(list(jobs), rows, groups, out, eval_model, reference)
    for (category, method), g in groups.items():
        done = [r for r in rows if r.category == category and r.method == method and r.status == "done"]
        g.clip_score = _mean([r.clip_score for r in done])
        g.loss = _mean([r.loss for r in done])
        g.seconds = _mean([r.seconds for r in done])
    return Summary(list(groups.values()), rows, clip_model, eval_classifier)


def _fmt(v: float | None, digits: int = 3) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def render_markdown(summary: Summary) -> str:
    """A Markdown table with one row per category and method."""
    t = summary.totals()
    lines = [f"# Batch summary\n\n{t['jobs']} jobs: {t['done']} done, {t['failed']} failed, {t['pending']} pending.",
             f"CLIP score: {summary.clip_model or 'not computed (pass --clip-model)'}."]
    if summary.eval_classifier:
        lines.append(f"Target accuracy and FMNIST-FID: {summary.eval_classifier}.")
    head = "| category | method | jobs | done | failed | CLIP score | final loss | seconds | target acc. | FMNIST-FID |"
    lines += ["", head, "|" + " --- |" * 10]
    for g in summary.groups:
        cells = [g.category or "-", g.method or "-", str(g.jobs), str(g.done), str(g.failed), _fmt(g.clip_score, 2),
                 _fmt(g.loss, 4), _fmt(g.seconds, 1), _fmt(g.target_accuracy, 3), _fmt(g.fmnist_fid, 2)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


SUMMARY_LOCK = ".summary.lock"  # held while a worker reads the manifest and writes the summary


@contextmanager
def summary_lock(out_dir: str | os.PathLike) -> Iterator[None]:
    """Serialise read-manifest-then-write-summary across the workers sharing DIR, so a worker that read the
    manifest before another's last job was committed cannot overwrite the later, complete summary."""
    import fcntl

    path = Path(out_dir) / SUMMARY_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def write_summary(summary: Summary, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write DIR/summary.json and DIR/summary.md atomically; returns their paths."""
    out = Path(out_dir)
    js, md = out / "summary.json", out / "summary.md"
    atomic_write_text(js, metrics_json(summary.to_dict(), str(js), indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(md, render_markdown(summary))
    return js, md


def fashion_reference(split: str = "test") -> Reference:
    """Real Fashion-MNIST images of given classes (the test split by default), for FMNIST-FID."""
    from ..data.fashion_mnist import as_float_images, load_fashion_mnist

    images, labels = load_fashion_mnist(split)

    def reference(classes: Sequence[int]) -> Tensor:
        mask = torch.isin(labels, torch.tensor(list(classes), dtype=labels.dtype))
        return as_float_images(images[mask])

    return reference
