"""Writing a run's files, each atomically: seed PNGs with metadata, iterate strips and GIFs, loss curve, run.json."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from ..io import atomic_path, atomic_write_text, grid, save_gif, save_loss_curve, save_png
from ..io.jsontext import json_text
from .record import RunRecord

VERSIONED = ("doodl", "torch", "diffusers", "transformers")
RUN_FILES = ("seed-*.png", "iterates-*.png", "iterates-*.gif", "loss.png", "run.json")  # what execute() writes


def prepare_out_dir(out: Path, overwrite: bool, patterns: Sequence[str] = RUN_FILES, option: str = "--out") -> Path:
    """Refuse a non-empty output folder (a new run would mix with the old one's files) unless overwrite is set;
    then remove the earlier run's files (those matching `patterns`, folders among them included), keeping others."""
    import shutil

    entries = sorted(p.name for p in out.iterdir() if not p.name.startswith(".write-test-")) if out.is_dir() else []
    if not entries:
        return out
    if not overwrite:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ValueError(f"{option} '{out}' is not empty ({shown}): a new run would mix with those files; give a "
                         "new folder, or --overwrite to replace the previous run's outputs")
    for pattern in patterns:
        for p in out.glob(pattern):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    return out


def package_versions() -> dict[str, str]:
    """Installed versions of doodl, torch, diffusers and transformers (for reproducing a run)."""
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    if out["doodl"] == "not installed":
        from .. import __version__

        out["doodl"] = __version__
    return out


def image_metadata(record_fields: dict[str, Any], seed: int, loss: float | None, best_step: int | None) -> dict[str, Any]:
    """PNG metadata of one seed's image: prompt, seed, every option, resolved settings, versions (no timings)."""
    spec = record_fields["spec"]
    return {
        "prompt": spec["prompt"], "negative_prompt": spec["negative_prompt"], "seed": seed, "task": spec["task"],
        "method": spec["method"], "model": spec["model"], "loss": loss, "best_step": best_step,
        "options": spec, "settings": record_fields["settings"], "versions": record_fields["versions"],
    }


def _strip_scale(height: int) -> int:
    """Upscale factor so small images (zoo 28 px, test 16 px) stay visible in strips."""
    return max(1, 128 // max(1, height))


def write_seed_files(out: Path, seed: int, image: Tensor, frames: Sequence[Tensor], steps: Sequence[int],
                     meta: dict[str, Any]) -> tuple[Path, Path | None, Path | None]:
    """seed-<s>.png (with metadata) and, when there are iterates, iterates-<s>.png (a strip) and iterates-<s>.gif."""
    path = save_png(out / f"seed-{seed}.png", image, meta)
    if not frames:
        return path, None, None
    stack = torch.stack(list(frames))
    scale = _strip_scale(stack.shape[-2])
    strip = save_png(out / f"iterates-{seed}.png", grid([stack], scale=scale), {"seed": seed, "steps": list(steps)})
    if scale > 1:
        stack = torch.nn.functional.interpolate(stack.float(), scale_factor=scale, mode="nearest")
    gif = save_gif(out / f"iterates-{seed}.gif", list(stack), duration_ms=300)
    return path, strip, gif


def write_latents(out: Path, seed: int, pair: tuple[Tensor, Tensor]) -> Path:
    """latents-<s>.pt: {"x_T", "y_T"}, the EDICT pair that regenerates seed-<s>.png (see run.json settings.chain)."""
    path = out / f"latents-{seed}.pt"
    with atomic_path(path) as tmp:
        torch.save({"x_T": pair[0].contiguous(), "y_T": pair[1].contiguous()}, tmp)
    return path


def write_loss_curve(out: Path, losses: Sequence[Sequence[float | None]], seeds: Sequence[int]) -> Path:
    """loss.png: one line per seed over the optimisation steps."""
    curves = [[float("nan") if v is None else v for v in curve] for curve in losses]
    return save_loss_curve(out / "loss.png", curves, labels=[f"seed {s}" for s in seeds])


def write_run_json(out: Path, record: RunRecord) -> Path:
    """run.json: the spec, resolved settings, per-seed per-step losses, final losses, seconds and versions."""
    path = out / "run.json"
    record.run_json = path
    atomic_write_text(path, json_text(record.to_dict(), str(path), indent=2, sort_keys=False) + "\n")
    return path
