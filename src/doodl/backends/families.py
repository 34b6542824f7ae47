"""Which backend serves which diffusers pipeline: dispatch on model_index.json's _class_name or a built pipeline's class."""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any

from ..hub import offline_reason
from . import files
from .base import Backend

# diffusers pipeline class -> doodl backend ("module:Class", imported on first use)
PIPELINE_BACKENDS: dict[str, str] = {
    "StableDiffusionPipeline": "doodl.backends.sd:StableDiffusionBackend",
    "StableDiffusionXLPipeline": "doodl.backends.sdxl:StableDiffusionXLBackend",
    "StableDiffusion3Pipeline": "doodl.backends.sd3:StableDiffusion3Backend",
    "FluxPipeline": "doodl.backends.flux:FluxBackend",
}
FAMILY_OPTIONS = {"dtype", "device", "variant", "revision", "height", "width", "max_sequence_length", "vae_slicing",
                  "vae_tiling", "gradient_checkpointing"}


def supported() -> str:
    """The supported pipeline classes, for messages."""
    return ", ".join(PIPELINE_BACKENDS)


def backend_class(pipeline_class: str, where: str) -> type[Backend]:
    """The backend class for a diffusers pipeline class name; a ValueError naming the supported ones otherwise."""
    if pipeline_class not in PIPELINE_BACKENDS:
        raise ValueError(f"{where} is a {pipeline_class or 'pipeline without _class_name'}, which doodl does not "
                         f"support; supported pipelines: {supported()}")
    module, _, attr = PIPELINE_BACKENDS[pipeline_class].partition(":")
    return getattr(importlib.import_module(module), attr)


def from_pipeline(pipe: Any, **options: Any) -> Backend:
    """A backend around an already built diffusers pipeline, chosen by its class (or the nearest supported base)."""
    for cls in type(pipe).__mro__:
        if cls.__name__ in PIPELINE_BACKENDS:
            return backend_class(cls.__name__, "pipeline").from_pipeline(pipe, **options)
    raise ValueError(f"a built {type(pipe).__name__} is not supported; supported pipelines: {supported()}")


def read_model_index(name_or_path: str, local: bool, revision: str | None = None) -> dict[str, Any]:
    """model_index.json of a folder or hub id (the hub read needs network or the HF cache; offline, the cache only)."""
    if local and not (Path(name_or_path) / "model_index.json").is_file():
        raise FileNotFoundError(f"'{name_or_path}' has no model_index.json: not a diffusers pipeline folder "
                                "(write one with save_pretrained)")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
        return files.read_model_index(name_or_path, local, revision, local_files_only=not local and offline_reason() is not None)


def check_folder(folder: Path, index: dict[str, Any]) -> None:
    """Raise FileNotFoundError naming each component model_index.json lists whose subfolder is missing."""
    missing = [f"{k}/" for k, v in index.items()
               if not k.startswith("_") and isinstance(v, list) and v and v[0] is not None and not (folder / k).is_dir()]
    if missing:
        raise FileNotFoundError(f"'{folder}' lists component(s) it lacks: {', '.join(missing)} (model_index.json "
                                "names them; restore them, or set them to [null, null] where the pipeline allows it)")


def load_family_backend(name_or_path: str, index: dict[str, Any], where: str, local: bool, **options: Any) -> Backend:
    """Load a non-SD pipeline backend (SDXL, SD3, Flux) for a folder or hub id whose model_index is `index`."""
    cls = backend_class(str(index.get("_class_name", "")), where)
    unknown = set(options) - FAMILY_OPTIONS
    if unknown:
        raise ValueError(f"{cls.__name__} got unknown option(s) {sorted(unknown)}; accepted: {sorted(FAMILY_OPTIONS)}")
    if "max_sequence_length" in options and cls.__name__ == "StableDiffusionXLBackend":
        raise ValueError("max_sequence_length applies to T5 models (SD3, Flux), not SDXL")
    if local:
        check_folder(Path(name_or_path), index)
    return cls.from_pretrained(name_or_path, **options)
