"""The one loading entry point: doodl.load_backend(name_or_path) for short names, hub ids and local folders.

Short names map to factories imported only when asked (the project's zoo models); anything else is read as
a Stable Diffusion folder saved with save_pretrained, or a Hugging Face hub id. Errors say what was looked
for and how to provide it.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

from .base import Backend
from .sd import SDXL_MESSAGE, StableDiffusionBackend, as_dtype

log = logging.getLogger(__name__)

Factory = Callable[..., Backend]
# short name -> (factory or "module:attribute", default options); strings are imported on first use
_REGISTRY: dict[str, tuple[Factory | str, dict[str, Any]]] = {
    "fashion": ("doodl.zoo:load_fashion_backend", {}),
    "fashion-cond": ("doodl.zoo:load_fashion_backend", {"conditional": True}),
    "fashion-super": ("doodl.zoo:load_fashion_backend", {"name": "fashion-super-ddpm"}),
}
SD_SUBFOLDERS = {"unet": "config.json", "vae": "config.json", "text_encoder": "config.json",
                 "tokenizer": None, "scheduler": "scheduler_config.json"}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
EXAMPLE_HUB_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def known_backends() -> list[str]:
    """The registered short names, sorted."""
    return sorted(_REGISTRY)


def register_backend(name: str, factory: Factory | str, *, overwrite: bool = False, **defaults: Any) -> None:
    """Make load_backend(name, **options) call factory(**defaults, **options); factory may be 'module:attr'."""
    if not isinstance(name, str) or not name or "/" in name or os.sep in name:
        raise ValueError(f"backend name must be a non-empty string without '/', got {name!r}")
    if not (callable(factory) or (isinstance(factory, str) and factory.count(":") == 1)):
        raise ValueError(f"factory must be callable or a 'module:attribute' string, got {factory!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"backend name {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = (factory, dict(defaults))


def _resolve(name: str) -> tuple[Factory, dict[str, Any]]:
    factory, defaults = _REGISTRY[name]
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"backend {name!r} needs {module}.{attr}, which could not be imported: {e}") from e
    return factory, defaults


def _check_options(func: Callable, options: dict[str, Any], what: str) -> None:
    """Raise a ValueError naming the accepted options when func cannot take these keyword options."""
    try:
        inspect.signature(func).bind(**options)
    except TypeError:
        params = [p for p, v in inspect.signature(func).parameters.items() if v.kind is not v.VAR_KEYWORD]
        raise ValueError(f"{what} got unknown option(s) {sorted(options)}; accepted: {params}") from None


def weights_help() -> str:
    """How to provide Stable Diffusion weights in a world that may be offline (used in every loading error)."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    hub = (f"a hub id such as '{EXAMPLE_HUB_ID}' with network access"
           + (" (HF_HUB_OFFLINE is set: unset it, or put the model in the Hugging Face cache first)" if offline
              else " (or already in the Hugging Face cache, e.g. with HF_HUB_OFFLINE=1)"))
    return ("Give a local folder saved with save_pretrained (model_index.json plus unet/, vae/, text_encoder/, "
            f"tokenizer/ and scheduler/ subfolders), {hub}, or a short name: {', '.join(known_backends())}.")


def _read_model_index(name_or_path: str, local: bool, revision: str | None) -> dict[str, Any]:
    if local:
        return json.loads((Path(name_or_path) / "model_index.json").read_text(encoding="utf-8"))
    from diffusers import DiffusionPipeline

    return dict(DiffusionPipeline.load_config(name_or_path, revision=revision))


def check_sd_folder(folder: Path) -> None:
    """Raise FileNotFoundError listing what a save_pretrained SD folder lacks (model_index.json, subfolders)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"no Stable Diffusion model at '{folder}': the folder does not exist. {weights_help()}")
    missing = [] if (folder / "model_index.json").is_file() else ["model_index.json"]
    for sub, config in SD_SUBFOLDERS.items():
        if not (folder / sub).is_dir():
            missing.append(f"{sub}/")
        elif config is not None and not (folder / sub / config).is_file():
            missing.append(f"{sub}/{config}")
    if missing:
        raise FileNotFoundError(f"'{folder}' is not a complete Stable Diffusion folder: missing {', '.join(missing)}. "
                                f"{weights_help()}")


def _load_parts(name_or_path: str, where: str, local: bool, dtype: torch.dtype | None, variant: str | None,
                revision: str | None) -> dict[str, Any]:
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    index = _read_model_index(name_or_path, local, revision)
    if "text_encoder_2" in index or "XL" in str(index.get("_class_name", "")):
        raise ValueError(SDXL_MESSAGE)
    if "unet" not in index or "text_encoder" not in index:
        raise ValueError(f"{where} is a {index.get('_class_name', 'pipeline')} without unet/text_encoder, "
                         "not a Stable Diffusion 1.x/2.x model")
    kw = {"revision": revision, "variant": variant}
    torch_dtype = {"torch_dtype": dtype} if dtype is not None else {}
    return {
        "unet": UNet2DConditionModel.from_pretrained(name_or_path, subfolder="unet", **kw, **torch_dtype),
        "vae": AutoencoderKL.from_pretrained(name_or_path, subfolder="vae", **kw, **torch_dtype),
        "text_encoder": CLIPTextModel.from_pretrained(name_or_path, subfolder="text_encoder", **kw),
        "tokenizer": CLIPTokenizer.from_pretrained(name_or_path, subfolder="tokenizer", revision=revision),
        "scheduler_config": dict(DDIMScheduler.load_config(name_or_path, subfolder="scheduler", revision=revision)),
    }


def load_sd_components(
    name_or_path: str, *, dtype: torch.dtype | None = None, variant: str | None = None, revision: str | None = None
) -> dict[str, Any]:
    """unet, vae, text_encoder, tokenizer and scheduler_config of an SD 1.x/2.x model, hub id or local folder."""
    from huggingface_hub.errors import HFValidationError

    local = Path(name_or_path).expanduser().is_dir()
    if local:
        name_or_path = str(Path(name_or_path).expanduser())
        check_sd_folder(Path(name_or_path))
    where = f"folder '{name_or_path}'" if local else f"hub id '{name_or_path}' (no local folder by that name)"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")  # diffusers passes a retired hub argument
            parts = _load_parts(name_or_path, where, local, dtype, variant, revision)
    except (OSError, HFValidationError) as e:
        raise FileNotFoundError(f"could not load Stable Diffusion weights from {where}: {str(e).splitlines()[0]} "
                                f"{weights_help()}") from e
    log.info("loaded Stable Diffusion components from %s", where)
    return parts


def _looks_like_path(name: str) -> bool:
    return (name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1
            or name.lower().endswith((".ckpt", ".safetensors", ".bin", ".pt")))


def load_backend(name_or_path: str | os.PathLike, **options: Any) -> Backend:
    """A backend by short name ('fashion', 'fashion-cond', or registered), SD hub id, or SD folder.

    Options go to the factory (dtype may be a name such as "float16"); for Stable Diffusion: dtype, device,
    variant, revision, height, width, attention_slicing, vae_slicing, vae_tiling, gradient_checkpointing,
    channels_last.
    """
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise ValueError(f"name_or_path must be a short name, hub id or folder path, got {name_or_path!r}")
    name = str(name_or_path).strip()
    if "dtype" in options:  # names such as "float16" work for every factory
        options["dtype"] = as_dtype(options["dtype"])
    if name in _REGISTRY:
        factory, defaults = _resolve(name)
        merged = {**defaults, **options}
        _check_options(factory, merged, f"backend {name!r}")
        return factory(**merged)
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
