"""The page's fields -> a RunSpec: the same checks and errors as the CLI (RunSpec validates every field)."""

from __future__ import annotations

from typing import Sequence

from ..specs import parse_seeds
from ..runs import RunSpec

DEFAULT_MODEL = "fashion"  # the embedded zoo: runs on a fresh machine with no downloads
DEFAULT_GUIDE = "classifier:1,classifier=fashion-guide,class=7"  # the zoo's guide classifier, class 7 (sneaker)
TASKS = {"generate": "generate", "personalize": "personalize", "edit": "edit", "classify-guide": "classify-guide"}
METHODS = {"DOODL": "doodl", "one-step": "one_step", "vanilla": "vanilla"}


def parse_guides(text: str) -> tuple[str, ...]:
    """One guide per line (or ';;'-separated): NAME[:WEIGHT][,KEY=VALUE...], blank lines ignored."""
    lines = [g.strip() for part in str(text or "").splitlines() for g in part.split(";;")]
    return tuple(g for g in lines if g)


def spec_from_form(task: str, model: str, prompt: str, guides: str, method: str, seeds: str, steps: float,
                   updates: float, lr: float | None, image: str | None = None,
                   references: Sequence[str] = (), classifier: str | None = None, class_index: float | None = None,
                   device: str = "auto", crops: float = 0) -> RunSpec:
    """A checked RunSpec from the page's values (numbers arrive as floats; lr None or 0 means the task default)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    as_int = lambda name, v: int(v) if v is not None and float(v).is_integer() else _bad(name, v)  # noqa: E731
    kwargs: dict = dict(
        task=TASKS[task], model=(model or DEFAULT_MODEL).strip(), prompt=prompt or "", guides=parse_guides(guides),
        method=METHODS[method], seeds=tuple(parse_seeds(seeds or "0")), steps=as_int("steps", steps),
        opt_steps=as_int("updates", updates), lr=float(lr) if lr else None, device=device, crops=as_int("crops", crops),
    )
    if image:
        kwargs["image"] = str(image)
    if references:
        kwargs["references"] = tuple(str(r) for r in references)
    if task == "classify-guide":
        kwargs["classifier"] = (classifier or "fashion-guide").strip()
        kwargs["class_index"] = as_int("class", class_index)
    return RunSpec(**kwargs)


def _bad(name: str, value: object) -> int:
    raise ValueError(f"{name} must be a whole number, got {value!r}")
