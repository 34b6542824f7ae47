"""The zoo's models by name: where their weights live, how they are saved, and loading them with clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..io.atomic import atomic_path
from .config import CLASSIFIER_NAMES, DDPM_NAMES, NAMES
from .models import NUM_CLASSES, EvalCNN, GuidanceCNN

if TYPE_CHECKING:
    from ..backends.pixel import PixelBackend

ENV_VAR = "DOODL_ZOO_DIR"
PACKAGE_DIR = Path(__file__).resolve().parent / "weights"
FORMAT = "doodl-zoo-1"  # stored in each file's metadata; bump when the layout changes


def check_name(name: str, allowed: tuple[str, ...] = NAMES) -> str:
    """Return `name` if it is a zoo model among `allowed`; ValueError listing the valid names otherwise."""
    if name not in allowed:
        raise ValueError(f"unknown zoo model {name!r}; valid: {', '.join(allowed)}")
    return name


def zoo_dir(weights_dir: str | os.PathLike | None = None) -> Path:
    """The folder of zoo weights: `weights_dir`, else $DOODL_ZOO_DIR, else the package's zoo/weights."""
    if weights_dir is not None:
        return Path(weights_dir)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else PACKAGE_DIR


def weights_path(name: str, weights_dir: str | os.PathLike | None = None) -> Path:
    """Path of <name>.safetensors in the zoo folder (it need not exist)."""
    return zoo_dir(weights_dir) / f"{check_name(name)}.safetensors"


def card_path(name: str, weights_dir: str | os.PathLike | None = None) -> Path:
    """Path of the model card <name>.json beside the weights."""
    return zoo_dir(weights_dir) / f"{check_name(name)}.json"


def save_weights(path: str | os.PathLike, module: nn.Module, arch: str, config: dict[str, Any],
                 dtype: torch.dtype = torch.float32, extra: dict[str, str] | None = None) -> Path:
    """Save a module's state dict as safetensors (floats cast to `dtype`), its architecture in the metadata."""
    from safetensors.torch import save_file

    tensors = {
        k: (v.detach().to(dtype) if v.is_floating_point() else v.detach()).cpu().contiguous().clone()
        for k, v in module.state_dict().items()
    }
    meta = {**(extra or {}), "format": FORMAT, "arch": arch, "config": json.dumps(config, sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)


def read_weights(path: str | os.PathLike, name: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(state dict, metadata) of a zoo safetensors file; FileNotFoundError / ValueError naming the file."""
    from safetensors import safe_open

    path = Path(path)
    label = name or path.stem
    if not path.is_file():
        raise FileNotFoundError(
            f"weights for {label!r} not found: {path}; run `doodl zoo train --model {label}` "
            f"(or point ${ENV_VAR} / weights_dir= at a folder holding {path.name})"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # noqa: BLE001 -- safetensors raises its own error types for truncated or foreign files
        raise ValueError(
            f"weight file {path} is corrupt or not a safetensors file ({type(e).__name__}: {e}); "
            f"re-create it with `doodl zoo train --model {label}`"
        ) from None
    if meta.get("format") != FORMAT or "arch" not in meta:
        raise ValueError(f"weight file {path} is not a doodl zoo file (metadata {sorted(meta)}); expected format {FORMAT}")
    return tensors, meta


def build_module(arch: str, config: dict[str, Any]) -> nn.Module:
    """Build an untrained zoo architecture from its name and keyword config."""
    if arch == "UNet2DModel":
        from diffusers import UNet2DModel

        return UNet2DModel(**config)
    if arch == "GuidanceCNN":
        return GuidanceCNN(**config)
    if arch == "EvalCNN":
        return EvalCNN(**config)
    raise ValueError(f"unknown zoo architecture {arch!r}")


def load_module(path: str | os.PathLike, name: str | None = None, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> nn.Module:
    """Build the architecture named in a zoo file and load its weights; eval mode, no parameter gradients."""
    return _load(path, name, device, dtype)[0]


def _load(path: str | os.PathLike, name: str | None, device: str | torch.device,
          dtype: torch.dtype) -> tuple[nn.Module, dict[str, str]]:
    tensors, meta = read_weights(path, name)
    try:
        module = build_module(meta["arch"], json.loads(meta.get("config", "{}")))
        module.load_state_dict(tensors, strict=True)
    except (RuntimeError, TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"weight file {path} does not match its architecture {meta.get('arch')!r}: {e}") from None
    module = module.to(device)
    if dtype != torch.float32:  # built in float32; diffusers warns about any .to(dtype=...)
        module = module.to(dtype)
    return module.eval().requires_grad_(False), meta


def load_unet(name: str, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
              weights_dir: str | os.PathLike | None = None) -> nn.Module:
    """The EMA UNet2DModel of a zoo DDPM ('fashion-ddpm', 'fashion-cond-ddpm' or 'fashion-super-ddpm')."""
    check_name(name, DDPM_NAMES)
    return load_module(weights_path(name, weights_dir), name, device, dtype)


def load_classifier(name: str, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                    weights_dir: str | os.PathLike | None = None) -> nn.Module:
    """A zoo classifier ('fashion-guide' or 'fashion-eval'): images in [0, 1], (B, 1, 28, 28) -> logits (B, 10)."""
    check_name(name, CLASSIFIER_NAMES)
    return load_module(weights_path(name, weights_dir), name, device, dtype)


def load_fashion_backend(conditional: bool = False, device: str | torch.device = "cpu",
                         dtype: torch.dtype = torch.float32, *, weights_dir: str | os.PathLike | None = None,
                         name: str | None = None) -> PixelBackend:
    """PixelBackend of a zoo Fashion-MNIST DDPM (DDPM linear schedule, 28x28 padded to 32x32 with -1).

    name: 'fashion-ddpm', 'fashion-cond-ddpm' or 'fashion-super-ddpm' (4 superclass labels, zoo.superclass);
    None picks by `conditional`. The backend's num_classes is the number of real labels of the model.
    """
    from ..backends.pixel import PixelBackend
    from ..schedules import make_alphas_cumprod
    from .superclass import NUM_SUPER

    if name is None:
        name = "fashion-cond-ddpm" if conditional else "fashion-ddpm"
    conditional = check_name(name, DDPM_NAMES) != "fashion-ddpm"
    path = weights_path(name, weights_dir)
    unet, meta = _load(path, name, device, dtype)
    try:
        schedule, n, pad = meta.get("schedule", "linear"), int(meta.get("num_train_timesteps", 1000)), int(meta.get("pad", 2))
        alphas_cumprod = make_alphas_cumprod(schedule, n)  # type: ignore[arg-type]
    except ValueError as e:
        raise ValueError(f"weight file {path} has a bad schedule in its metadata: {e}") from None
    if (getattr(unet.config, "num_class_embeds", None) is not None) != conditional:
        raise ValueError(f"weight file {path} holds a{'n un' if conditional else ' '}conditional UNet")
    n_labels = NUM_SUPER if meta.get("labels") == "super" else NUM_CLASSES
    backend = PixelBackend(unet, alphas_cumprod, pad=pad, num_classes=n_labels if conditional else None)
    backend.family = "vp-linear"  # the key of doodl.optimizer.defaults (EDICT p, T, the optimizer steps)
    return backend
