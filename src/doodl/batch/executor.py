"""What runs one batch job: the Executor protocol, the default adapter over doodl.runs, and loading one by name."""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

# fields that say where a job runs, not what it makes: left out of the job id, so moving a batch to other devices
# (cuda:0 vs cuda) does not re-run it
PLACEMENT_FIELDS = frozenset({"device"})


@dataclass
class JobOutput:
    """What an executor reports back: scalar metrics for the manifest (e.g. the final 'loss')."""

    metrics: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Executor(Protocol):
    """Runs one job. normalize validates a job dict (ValueError on bad input) and returns its canonical form;
    identity is the part of it that names the job; run writes the job's files into out_dir."""

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]: ...

    def identity(self, spec: Mapping[str, Any]) -> dict[str, Any]: ...

    def run(self, spec: Mapping[str, Any], out_dir: Path) -> JobOutput: ...


class RunExecutor:
    """The default executor: a job dict is a doodl.runs.RunSpec (to_dict form), run by doodl.runs.execute.

    Backends and scorers are kept in one ModelCache across the jobs of a process, so a batch over one model loads
    it once per rank.
    """

    def __init__(self) -> None:
        from ..runs import ModelCache

        self.cache = ModelCache()
        self._defaults: dict[str, Any] | None = None

    @staticmethod
    def _spec_class():
        from ..runs import RunSpec

        return RunSpec

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """RunSpec.from_dict(spec).to_dict(): defaults filled in, unknown keys and bad values rejected."""
        return self._spec_class().from_dict(dict(spec)).to_dict()

    def defaults(self) -> dict[str, Any]:
        """RunSpec's defaults in to_dict form, for the fields that have one."""
        if self._defaults is None:
            import dataclasses

            cls = self._spec_class()
            out: dict[str, Any] = {}
            for f in dataclasses.fields(cls):
                if f.default is not dataclasses.MISSING:
                    out[f.name] = f.default
                elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                    out[f.name] = f.default_factory()  # type: ignore[misc]
            # round trip through the dataclass's own serialisation so values compare in to_dict form
            self._defaults = {k: _jsonable(v) for k, v in out.items()}
        return self._defaults

    def identity(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The spec without placement fields and without fields left at RunSpec's default, so a new RunSpec field
        with a default, or a default written out in a JOBS line, does not change the job's id."""
        defaults = self.defaults()
        return {k: v for k, v in spec.items()
                if k not in PLACEMENT_FIELDS and not (k in defaults and _jsonable(v) == defaults[k])}

    def run(self, spec: Mapping[str, Any], out_dir: Path) -> JobOutput:
        """execute(RunSpec) into out_dir; metrics: the final loss of the job's seed (when the run has one)."""
        from ..runs import execute

        record = execute(self._spec_class().from_dict(dict(spec)), out_dir, progress=False, models=self.cache)
        return JobOutput(record_metrics(record))


def record_metrics(record: Any) -> dict[str, float]:
    """Scalar metrics of a RunRecord: 'loss' (mean final loss over its seeds, when there are losses), 'seconds'."""
    out: dict[str, float] = {}
    losses = getattr(record, "losses", None)
    if losses is not None:
        finals = []
        for v in (losses.values() if isinstance(losses, Mapping) else losses):
            if hasattr(v, "tolist"):
                v = v.tolist()
            if isinstance(v, (list, tuple)):
                v = v[-1] if v else None
            if v is not None:
                finals.append(float(v))
        if finals:
            out["loss"] = sum(finals) / len(finals) if all(math.isfinite(x) for x in finals) else math.nan
    seconds = getattr(record, "seconds", None)
    if isinstance(seconds, (int, float)):
        out["run_seconds"] = float(seconds)
    return out


def _jsonable(v: Any) -> Any:
    """Tuples as lists, dataclasses as dicts: the shapes to_dict gives."""
    import dataclasses

    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {k: _jsonable(x) for k, x in dataclasses.asdict(v).items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def load_executor(target: str | None = None) -> Executor:
    """An executor from 'module:callable' (called with no arguments), or RunExecutor when target is None."""
    if target is None:
        return RunExecutor()
    module_name, _, attr = str(target).partition(":")
    if not module_name or not attr:
        raise ValueError(f"--executor must look like 'package.module:callable', got {target!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"--executor {target!r} cannot be loaded: {e}") from None
    executor = factory()
    if not isinstance(executor, Executor):
        raise ValueError(f"--executor {target!r} gave {type(executor).__name__}, which lacks normalize/identity/run")
    return executor
