"""Stable Diffusion weights on disk or on the hub: folder checks, component loading, and the help text of errors."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from ..hub import offline_reason
from .registry import known_backends

log = logging.getLogger(__name__)

SD_SUBFOLDERS = {"unet": "config.json", "vae": "config.json", "text_encoder": "config.json",
                 "tokenizer": None, "scheduler": "scheduler_config.json"}
EXAMPLE_HUB_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SDXL_MESSAGE = ("SDXL is not supported by StableDiffusionBackend: its UNet needs pooled embeddings from a second "
                "text encoder and added time ids (original size, crop, target size); load it with doodl.load_backend "
                "(StableDiffusionXLBackend) instead")


def weights_help() -> str:
    """How to provide Stable Diffusion weights in a world that may be offline (used in every loading error)."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    hub = (f"a hub id such as '{EXAMPLE_HUB_ID}' with network access"
           + (" (HF_HUB_OFFLINE is set: unset it, or put the model in the Hugging Face cache first)" if offline
              else " (or already in the Hugging Face cache, e.g. with HF_HUB_OFFLINE=1)"))
    return ("Give a local folder saved with save_pretrained (model_index.json plus unet/, vae/, text_encoder/, "
            f"tokenizer/ and scheduler/ subfolders), {hub}, or a short name: {', '.join(known_backends())}.")


def read_model_index(name_or_path: str, local: bool, revision: str | None, local_files_only: bool = False) -> dict[str, Any]:
    if local:
        path = Path(name_or_path) / "model_index.json"
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"'{path}' is not valid JSON ({e}); re-save the model with save_pretrained") from None
        if not isinstance(index, dict):
            raise ValueError(f"'{path}' must hold a JSON object (a diffusers model index), got {type(index).__name__}")
        return index
    from diffusers import DiffusionPipeline

    return dict(DiffusionPipeline.load_config(name_or_path, revision=revision, local_files_only=local_files_only))


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
                revision: str | None, local_files_only: bool = False) -> dict[str, Any]:
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    index = read_model_index(name_or_path, local, revision, local_files_only)
    if "text_encoder_2" in index or "XL" in str(index.get("_class_name", "")):
        raise ValueError(SDXL_MESSAGE)
    if "unet" not in index or "text_encoder" not in index:
        raise ValueError(f"{where} is a {index.get('_class_name', 'pipeline')} without unet/text_encoder, "
                         "not a Stable Diffusion 1.x/2.x model")
    kw = {"revision": revision, "variant": variant, "local_files_only": local_files_only}
    torch_dtype = {"torch_dtype": dtype} if dtype is not None else {}
    offline = {"revision": revision, "local_files_only": local_files_only}
    return {
        "unet": UNet2DConditionModel.from_pretrained(name_or_path, subfolder="unet", **kw, **torch_dtype),
        "vae": AutoencoderKL.from_pretrained(name_or_path, subfolder="vae", **kw, **torch_dtype),
        "text_encoder": CLIPTextModel.from_pretrained(name_or_path, subfolder="text_encoder", **kw),
        "tokenizer": CLIPTokenizer.from_pretrained(name_or_path, subfolder="tokenizer", **offline),
        "scheduler_config": dict(DDIMScheduler.load_config(name_or_path, subfolder="scheduler", **offline)),
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
    offline = None if local else offline_reason()  # asked once, so an offline user is not kept ~30 s in retries
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")  # diffusers passes a retired hub argument
            parts = _load_parts(name_or_path, where, local, dtype, variant, revision, local_files_only=offline is not None)
    except (OSError, HFValidationError) as e:
        if offline is not None:
            raise FileNotFoundError(
                f"cannot download Stable Diffusion '{name_or_path}': {offline}, and it is not in the local Hugging "
                f"Face cache. Point --model at a local folder saved with save_pretrained (model_index.json plus "
                f"unet/, vae/, text_encoder/, tokenizer/, scheduler/), or use a zoo model: {', '.join(known_backends())}"
            ) from None
        raise FileNotFoundError(f"could not load Stable Diffusion weights from {where}: {str(e).splitlines()[0]} "
                                f"{weights_help()}") from e
    except Exception as e:  # noqa: BLE001 -- a truncated or corrupt weights file in a local folder
        if not local or isinstance(e, ValueError):
            raise
        raise ValueError(f"could not load Stable Diffusion weights from {where}: {type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''} (a truncated or corrupt file? re-save the "
                         "model with save_pretrained)") from None
    log.info("loaded Stable Diffusion components from %s", where)
    return parts
