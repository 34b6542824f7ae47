"""The short-name registry of backends: name -> factory (imported on first use) and default options."""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable

from .base import Backend

Factory = Callable[..., Backend]
# short name -> (factory or "module:attribute", default options); strings are imported on first use
_REGISTRY: dict[str, tuple[Factory | str, dict[str, Any]]] = {
    "fashion": ("doodl.zoo:load_fashion_backend", {}),
    "fashion-cond": ("doodl.zoo:load_fashion_backend", {"conditional": True}),
    "fashion-super": ("doodl.zoo:load_fashion_backend", {"name": "fashion-super-ddpm"}),
}


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


def resolve(name: str) -> tuple[Factory, dict[str, Any]]:
    factory, defaults = _REGISTRY[name]
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"backend {name!r} needs {module}.{attr}, which could not be imported: {e}") from e
    return factory, defaults
