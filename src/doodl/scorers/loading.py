"""Loading CLIP models by hub id, local folder or OpenCLIP name into a ClipEmbedder (separate from the scorers)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from ..hub import offline_reason
from .clip import CLIP_MEAN, CLIP_STD, ClipEmbedder

log = logging.getLogger(__name__)

# short names -> hub ids. The LAION models are the ones the released DOODL code guides with (§5.1 uses a
# LAION-trained CLIP; §5.4 ensembles B/32, L/14, g/14); the aesthetic head was trained on OpenAI's ViT-L/14.
CLIP_ALIASES = {
    "vit-b-32": "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
    "vit-l-14": "laion/CLIP-ViT-L-14-laion2B-s32B-b82K",
    "vit-g-14": "laion/CLIP-ViT-g-14-laion2B-s12B-b42K",
    "vit-h-14": "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",  # CLIP-H: PickScore's base and tokenizer
    "openai-vit-b-32": "openai/clip-vit-base-patch32",
    "openai-vit-b-16": "openai/clip-vit-base-patch16",
    "openai-vit-l-14": "openai/clip-vit-large-patch14",
}


def _offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes") for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _not_found(name: str, looked: str) -> FileNotFoundError:
    hint = "downloads from the Hugging Face hub need network access"
    if _offline():
        hint += " (HF_HUB_OFFLINE=1 is set, so only the local cache is used)"
    return FileNotFoundError(
        f"CLIP model {name!r} not found: looked for {looked}; {hint}. Pass a local folder saved with save_pretrained "
        f"(model and tokenizer files), a cached hub id, or one of: {', '.join(CLIP_ALIASES)}"
    )


def _preprocessor_stats(source: str) -> dict[str, Any]:
    """image_mean / image_std / crop size from a preprocessor_config.json beside the model, when there is one."""
    try:
        if Path(source).is_dir():
            path = Path(source) / "preprocessor_config.json"
            if not path.is_file():
                return {}
        else:
            from transformers.utils import cached_file

            found = cached_file(source, "preprocessor_config.json", _raise_exceptions_for_missing_entries=False)
            if found is None:
                return {}
            path = Path(found)
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 -- optional file: fall back to CLIP's constants
        return {}
    out: dict[str, Any] = {}
    if isinstance(cfg.get("image_mean"), list) and isinstance(cfg.get("image_std"), list):
        out["mean"], out["std"] = cfg["image_mean"], cfg["image_std"]
    return out


def _load_transformers(source: str, name: str, device: str | torch.device, dtype: torch.dtype) -> ClipEmbedder:
    from transformers import AutoModel, AutoTokenizer

    local = Path(source).expanduser()
    looked = f"a local folder {str(local)!r} and the hub id {source!r}"
    if local.exists() and not local.is_dir():
        raise FileNotFoundError(f"CLIP model {name!r}: {str(local)!r} is a file; expected a folder saved with save_pretrained")
    src = str(local) if local.is_dir() else source
    if local.is_dir() and not (local / "config.json").is_file():
        raise FileNotFoundError(f"CLIP model {name!r}: folder {str(local)!r} has no config.json (save it with save_pretrained)")
    offline = None if local.is_dir() else offline_reason()  # asked once: offline, load from the cache only
    try:  # dtype below: the keyword changed name across transformers 4 and 5
        model = AutoModel.from_pretrained(src, **({"local_files_only": True} if offline else {}))
    except Exception as e:  # noqa: BLE001 -- missing files, and truncated ones (safetensors' own error type)
        if local.is_dir():
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ValueError(f"CLIP model {name!r}: cannot load the folder {src!r} ({type(e).__name__}: {first}; "
                             "a truncated or corrupt weights file? re-save it with save_pretrained)") from None
        if not isinstance(e, (OSError, ValueError)):
            raise
        raise _not_found(name, looked + (f" ({offline})" if offline else "")) from None
    if not callable(getattr(model, "get_image_features", None)):
        raise ValueError(f"{name!r} loads as {type(model).__name__}, which is not a CLIP-style model (no get_image_features)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, **({"local_files_only": True} if offline else {}))
    except (OSError, ValueError, TypeError) as e:
        log.warning("no tokenizer found for %s (%s); text guidance will not be available", name, e)
        tokenizer = None
    model = model.to(device, dtype).eval().requires_grad_(False)
    stats = _preprocessor_stats(src)
    return ClipEmbedder(model, tokenizer, mean=stats.get("mean", CLIP_MEAN), std=stats.get("std", CLIP_STD), name=name)


def _load_open_clip(spec: str, device: str | torch.device, dtype: torch.dtype) -> ClipEmbedder:
    arch, _, pretrained = spec.partition("/")
    if not arch:
        raise ValueError(f"OpenCLIP models are named 'open_clip:ARCH/PRETRAINED' (e.g. open_clip:ViT-L-14/openai), got {spec!r}")
    try:
        import open_clip  # type: ignore[import-not-found]
    except ImportError:
        raise ValueError("open_clip is not installed; pip install open_clip_torch, or use a transformers CLIP id or folder") from None
    try:
        model, _, _ = open_clip.create_model_and_transforms(arch, pretrained=pretrained or None, device=device)
    except Exception as e:  # noqa: BLE001 -- unknown names and missing downloads alike
        raise _not_found(f"open_clip:{spec}", f"the OpenCLIP architecture {arch!r} with weights {pretrained!r} ({e})") from None
    model = model.to(device, dtype).eval().requires_grad_(False)
    cfg = getattr(model.visual, "preprocess_cfg", None) or {}
    return ClipEmbedder(
        model, open_clip.get_tokenizer(arch), mean=cfg.get("mean", CLIP_MEAN), std=cfg.get("std", CLIP_STD),
        name=f"open_clip:{spec}",
    )


def load_clip(name_or_path: str | os.PathLike, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> ClipEmbedder:
    """A frozen CLIP as a ClipEmbedder: a short name (CLIP_ALIASES), a hub id, a local folder, or open_clip:ARCH/PRETRAINED."""
    name = str(name_or_path).strip()
    if not name:
        raise ValueError("CLIP model name must not be empty")
    if name.startswith("open_clip:"):
        return _load_open_clip(name[len("open_clip:"):], device, dtype)
    source = CLIP_ALIASES.get(name, name)
    emb = _load_transformers(source, name, device, dtype)
    log.info("loaded CLIP %s (%s, input %d px, %d-d embeddings)", name, emb.kind, emb.image_size, emb.embed_dim)
    return emb
