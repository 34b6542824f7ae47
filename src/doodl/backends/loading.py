"""The one loading entry point: doodl.load_backend(name_or_path) for short names, hub ids and local folders.

Short names map to factories imported only when asked (the project's zoo models, registry.py); anything else
is read as a Stable Diffusion folder saved with save_pretrained, or a Hugging Face hub id (files.py). Errors
say what was looked for and how to provide it.
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Any, Callable

from ..devices import as_device
from . import families
from .base import Backend
from .files import EXAMPLE_HUB_ID, SD_SUBFOLDERS, check_sd_folder, load_sd_components, weights_help  # noqa: F401
from .registry import Factory, known_backends, register_backend, resolve  # noqa: F401
from .sd import StableDiffusionBackend, as_dtype

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _check_options(func: Callable, options: dict[str, Any], what: str) -> None:
    """Raise a ValueError naming the accepted options when func cannot take these keyword options."""
    try:
        inspect.signature(func).bind(**options)
    except TypeError:
        params = [p for p, v in inspect.signature(func).parameters.items() if v.kind is not v.VAR_KEYWORD]
        raise ValueError(f"{what} got unknown option(s) {sorted(options)}; accepted: {params}") from None


def _looks_like_path(name: str) -> bool:
    return (name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1
            or name.lower().endswith((".ckpt", ".safetensors", ".bin", ".pt")))


def _family(name: str) -> tuple[dict[str, Any], bool] | None:
    """(model_index, local) when name is a folder or hub id of a non-SD-1.x/2.x pipeline; None for the SD path."""
    path = Path(name).expanduser()
    local = path.is_dir()
    if local and not (path / "model_index.json").is_file():
        return None  # the SD path names what is missing
    if not local and not HUB_ID.match(name):
        return None
    try:
        index = families.read_model_index(str(path) if local else name, local)
    except Exception:  # offline hub ids and the like: the SD path gives the full loading help
        return None
    if index.get("_class_name") == "StableDiffusionPipeline":
        return None
    return index, local


def load_backend(name_or_path: Any, **options: Any) -> Backend:
    """A backend by short name ('fashion', 'fashion-cond', or registered), hub id, pipeline folder or built pipeline.

    Folders and hub ids dispatch on model_index.json's _class_name (families.PIPELINE_BACKENDS: SD 1.x/2.x,
    SDXL, SD3, Flux); options for SDXL/SD3/Flux: dtype, device, variant, revision, height, width,
    max_sequence_length (T5 models), vae_slicing, vae_tiling, gradient_checkpointing.

    Options go to the factory (dtype may be a name such as "float16"); for Stable Diffusion: dtype, device,
    variant, revision, height, width, attention_slicing, vae_slicing, vae_tiling, gradient_checkpointing,
    channels_last.
    """
    if "dtype" in options:  # names such as "float16" work for every factory
        options["dtype"] = as_dtype(options["dtype"])
    if options.get("device") is not None:
        as_device(options["device"], "device")  # one line for 'tpu' or a missing GPU; factories get it as given
    if hasattr(name_or_path, "components") and hasattr(name_or_path, "save_pretrained"):  # a built diffusers pipeline
        return families.from_pipeline(name_or_path, **options)
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise ValueError(f"name_or_path must be a short name, hub id, folder path or built pipeline, got {name_or_path!r}")
    name = str(name_or_path).strip()
    if name in known_backends():
        factory, defaults = resolve(name)
        merged = {**defaults, **options}
        _check_options(factory, merged, f"backend {name!r}")
        return factory(**merged)
    family = _family(name)
    if family is not None:
        return families.load_family_backend(name if not family[1] else str(Path(name).expanduser()), family[0],
                                            f"'{name}'", family[1], **options)
    init = inspect.signature(StableDiffusionBackend.__init__).parameters.values()
    sd_options = {"variant", "revision"} | {p.name for p in init if p.kind is p.KEYWORD_ONLY}
    unknown = set(options) - sd_options
    if unknown:
        raise ValueError(f"Stable Diffusion backend got unknown option(s) {sorted(unknown)}; accepted: {sorted(sd_options)}")
    path = Path(name).expanduser()
    if path.is_file():
        raise ValueError(f"'{name}' is a file; single-file checkpoints are not supported. {weights_help()}")
    if path.is_dir():
        return StableDiffusionBackend.from_pretrained(str(path), **options)
    if _looks_like_path(name):
        raise FileNotFoundError(f"no Stable Diffusion model at '{name}': the folder does not exist. {weights_help()}")
    if HUB_ID.match(name):
        return StableDiffusionBackend.from_pretrained(name, **options)
    raise ValueError(f"unknown backend {name!r}: known short names are {', '.join(known_backends())}; "
                     f"or give a hub id ('owner/name') or a local Stable Diffusion folder")
