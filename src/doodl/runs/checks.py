"""Parsing and range checks for RunSpec fields; every error names the CLI option it comes from."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..specs import MAX_SEEDS
from .defaults import DEFAULT_CLASSIFIER, ZOO_CLASSIFIERS

if TYPE_CHECKING:
    from ..specs import GuideSpec



def parse_guide_entry(value: Any) -> "GuideSpec":
    """A GuideSpec from itself, a CLI string ('clip-text:0.5,prompt=x') or a dict {name, weight, options}."""
    from ..specs import GuideSpec, parse_guide

    if isinstance(value, GuideSpec):
        return value
    if isinstance(value, str):
        return parse_guide(value)
    if isinstance(value, Mapping) and "name" in value and set(value) <= {"name", "weight", "options"}:
        spec = parse_guide(str(value["name"]))
        weight = value.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0 or math.isinf(weight):
            raise ValueError(f"guide {spec.name}: weight must be a finite number >= 0, got {weight!r}")
        opts = value.get("options") or {}
        if not isinstance(opts, Mapping):
            raise ValueError(f"guide {spec.name}: options must be a dict, got {type(opts).__name__}")
        return GuideSpec(spec.name, float(weight), {str(k): v for k, v in opts.items()})
    raise ValueError(f"guides entries must be strings like 'clip-text:0.5,prompt=...' or dicts with name/weight/options, got {value!r}")


def parse_seed_list(value: Any) -> tuple[int, ...]:
    """A tuple of distinct seeds from an int, a list, or a range string like '0-3,7'."""
    from ..specs import parse_seeds

    if isinstance(value, str):
        return tuple(parse_seeds(value))
    items = [value] if isinstance(value, int) else list(value) if isinstance(value, (list, tuple)) else None
    if not items or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in items):
        raise ValueError(f"seeds must be a non-negative int, a non-empty list of them or a range like '0-3', got {value!r}")
    if len(items) > MAX_SEEDS:
        raise ValueError(f"seeds selects {len(items)} seeds; at most {MAX_SEEDS}")
    from ..optimizer.seeds import check_seed_range

    check_seed_range(items, "seeds")
    return tuple(dict.fromkeys(items))


def parse_class(value: str | int, classifier: str | None = None) -> int:
    """A class index from an int or its digits; zoo classifiers also take Fashion-MNIST names ('sneaker')."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if (classifier or DEFAULT_CLASSIFIER) in ZOO_CLASSIFIERS:
        from ..data.fashion_mnist import class_index

        try:
            return class_index(text)
        except ValueError as e:
            raise ValueError(f"--class: {e}") from None
    raise ValueError(f"--class must be an integer class index, got {value!r}")


def check_number(name: str, value: Any, low: float | None = None, open_low: bool = False, high: float | None = None) -> None:
    """A finite number within the bounds, else a ValueError naming `name`."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low is None or (value > low if open_low else value >= low)) and (high is None or value <= high)
    if not ok:
        lo = "" if low is None else f" {'>' if open_low else '>='} {low:g}"
        hi = "" if high is None else f" and <= {high:g}"
        raise ValueError(f"{name} must be a finite number{lo}{hi}, got {value!r}")


def check_integer(name: str, value: Any, low: int, high: int | None = None) -> None:
    """An int (not bool) within the bounds, else a ValueError naming `name`."""
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        rng = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {rng}, got {value!r}")


# ---- checks that look at files (before any model is loaded) ----

CLASSIFIER_FILE_SUFFIXES = (".pt", ".pth", ".pt2")
ZOO_BACKEND_WEIGHTS = {"fashion": "fashion-ddpm", "fashion-cond": "fashion-cond-ddpm"}  # short name -> zoo weights


def check_classifier_spec(value: Any, option: str = "--classifier") -> None:
    """A known classifier name, a TorchScript / torch.export file or 'module:callable'; else name the valid ones."""
    from .defaults import CLASSIFIER_CLASSES

    text = str(value).strip()
    if text in CLASSIFIER_CLASSES or text.lower().endswith(CLASSIFIER_FILE_SUFFIXES) or Path(text).is_file():
        return
    module, sep, attr = text.partition(":")
    if sep and module and attr and all(part.isidentifier() for part in module.split(".")):
        return
    raise ValueError(f"{option} {text!r} is not a known classifier, a classifier file (.pt, .pth, .pt2) or "
                     f"module:callable; known names: {', '.join(CLASSIFIER_CLASSES)}")


def train_timesteps_before_loading(model: str) -> int | None:
    """The model's number of training timesteps read from small config files (zoo card, SD scheduler config)."""
    import json

    name = model.strip()
    try:
        if name in ZOO_BACKEND_WEIGHTS:
            from ..zoo.registry import card_path

            card = json.loads(card_path(ZOO_BACKEND_WEIGHTS[name]).read_text(encoding="utf-8"))
            n = card.get("num_train_timesteps", (card.get("config") or {}).get("num_train_timesteps"))
        else:
            path = Path(name).expanduser() / "scheduler" / "scheduler_config.json"
            n = json.loads(path.read_text(encoding="utf-8")).get("num_train_timesteps") if path.is_file() else None
    except (OSError, ValueError, AttributeError):
        return None  # unreadable here: the loader reports it with the file's name
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def check_steps_fit(model: str, steps: int) -> None:
    """--steps must not exceed the model's training timesteps (checked from config files, before loading)."""
    n = train_timesteps_before_loading(model)
    if n is not None and steps > n:
        raise ValueError(f"--steps {steps} exceeds the {n} training timesteps of {model}; use --steps 1-{n}")


class NonFiniteLoss(ValueError):
    """A seed's final loss is NaN or infinite: the run failed (exit non-zero, no image written as a result)."""


def check_finite_losses(seeds: Sequence[int], losses: Sequence[float | None]) -> None:
    """Every scored seed's final loss must be finite; None means NaN or inf here (see record.json_float)."""
    bad = [s for s, v in zip(seeds, losses) if v is None or not math.isfinite(v)]
    if bad:
        raise NonFiniteLoss(f"the guide's loss is not finite (NaN or inf) for seed(s) {', '.join(map(str, bad))}: "
                            "no usable result, nothing written for them; check the scorer (e.g. a classifier "
                            "returning NaN) or lower --lr")
