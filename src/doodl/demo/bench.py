"""`doodl bench vocab` as a library function: every class, resumable per class (DOODL Table 3 at small scale).

Each finished class is written to OUT/classes/<k>.json (metrics) and <k>.safetensors (its images, uint8), so a
killed run picks up where it stopped when run again with the same settings.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from ..backends.base import Backend
from ..io import atomic_path, atomic_write_text
from ..io.jsontext import metrics_json
from ..evaluation import frechet_distance
from ..zoo.fid import fmnist_features
from .table import mean_metrics
from .vocab import METHODS, VocabConfig, run_vocab

log = logging.getLogger(__name__)


@dataclass
class BenchResult:
    """Per-class metrics, their unweighted mean, and FMNIST-FID of all classes' images pooled per method."""

    per_class: dict[str, dict[str, dict]]  # class name -> method -> metrics
    mean: dict[str, dict]
    pooled_fid: dict[str, float | None]  # method -> FID of all images against the test images of these classes
    resumed: list[int]  # classes read back from an earlier run
    images: dict[str, dict[str, Tensor]]  # class name -> method -> (N, 1, 28, 28) in [0, 1], 8-bit values


def _key(cfg: VocabConfig, seeds: Sequence[int]) -> dict:
    return {"config": asdict(cfg), "seeds": list(seeds)}


def _load_class(folder: Path, k: int, key: dict) -> tuple[dict, dict[str, Tensor]] | None:
    """A finished class from an earlier run with the same settings, or None."""
    meta, blob = folder / f"{k}.json", folder / f"{k}.safetensors"
    if not (meta.exists() and blob.exists()):
        return None
    try:
        data = json.loads(meta.read_text())
        from safetensors.torch import load_file

        images = {m: t.float().div(255) for m, t in load_file(str(blob)).items()}
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable %s (%s): the class is run again", meta, e)
        return None
    if {"config": data.get("config"), "seeds": data.get("seeds")} != key or set(images) != set(METHODS):
        return None
    return data["metrics"], images


def _quantize(images: Tensor) -> Tensor:
    """Images as 8-bit values (what the PNGs and the resume files hold), so a resumed run scores the same pixels."""
    return images.clamp(0, 1).mul(255).round().div(255)


def _save_class(folder: Path, k: int, key: dict, metrics: dict, images: dict[str, Tensor]) -> None:
    from safetensors.torch import save_file

    with atomic_path(folder / f"{k}.safetensors") as tmp:
        save_file({m: im.mul(255).round().to(torch.uint8).contiguous() for m, im in images.items()}, str(tmp))
    text = metrics_json({**key, "class": k, "metrics": metrics}, str(folder / f"{k}.json"), indent=1)
    atomic_write_text(folder / f"{k}.json", text + "\n")


def run_bench(backend: Backend, guide: nn.Module, eval_model: nn.Module, test: tuple[Tensor, Tensor] | None,
              classes: Sequence[int], seeds: Sequence[int], cfg: VocabConfig, out: Path,
              class_names: Sequence[str], progress: Callable[[int], None] | None = None) -> BenchResult:
    """Run run_vocab for each class (skipping classes already finished in `out` with the same settings).

    test: (images (N, 1, 28, 28) in [0, 1], labels (N,)) of the real test split, or None to skip FMNIST-FID.
    """
    if not classes or any(not 0 <= k < len(class_names) for k in classes):
        raise ValueError(f"classes must be indices in 0-{len(class_names) - 1}, got {list(classes)}")
    folder = Path(out) / "classes"
    key = _key(cfg, seeds)
    per_class: dict[str, dict] = {}
    all_images: dict[str, dict[str, Tensor]] = {}
    pooled: dict[str, list[Tensor]] = {m: [] for m in METHODS}
    resumed = []
    for k in classes:
        done = _load_class(folder, k, key)
        if done is not None:
            metrics, images = done
            resumed.append(k)
            if progress is not None:
                progress(len(seeds) * len(METHODS))
        else:
            reference = test[0][test[1] == k] if test is not None else None
            res = run_vocab(backend, guide, eval_model, reference, k, list(seeds), cfg, progress=progress)
            metrics, images = res.metrics, {m: _quantize(r.images.cpu()) for m, r in res.methods.items()}
            _save_class(folder, k, key, metrics, images)
        per_class[class_names[k]] = metrics
        all_images[class_names[k]] = images
        for m in METHODS:
            pooled[m].append(images[m])
    if resumed:
        log.info("read back finished classes %s from %s", resumed, folder)
    pooled_fid: dict[str, float | None] = {m: None for m in METHODS}
    if test is not None and len(seeds) * len(classes) >= 2:
        ref = fmnist_features(test[0][torch.isin(test[1], torch.tensor(list(classes)))], eval_model)
        pooled_fid = {m: frechet_distance(fmnist_features(torch.cat(pooled[m]), eval_model), ref) for m in METHODS}
    return BenchResult(per_class, mean_metrics(per_class, METHODS), pooled_fid, resumed, all_images)
