"""What runs one batch job: the Executor protocol, the default adapter over doodl.runs, and loading one by name."""

from __future__ import annotations

import hashlib
import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

# fields that say where a job runs, not what it makes: left out of the job id, so moving a batch to other devices
# (cuda:0 vs cuda) does not re-run it
PLACEMENT_FIELDS = frozenset({"device"})
INPUTS_KEY = "inputs"  # identity key holding {path: sha256} of the files a spec names
_MAX_PATH_CHARS = 4096
_digests: dict[tuple[str, int, int, int], str] = {}  # (path, inode, size, mtime_ns) -> sha256, per process


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, cached while its inode, size and mtime stay the same."""
    st = path.stat()
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _digests[key] = h.hexdigest()
    return _digests[key]


def input_digests(spec: Mapping[str, Any]) -> dict[str, str]:
    """{path: sha256} for every string in the spec (or ';'-separated part of one) that names an existing file:
    the edit image, personalize references, guide options such as references=a.png;b.png, TorchScript files.
    Folders (a diffusers model directory) are not hashed."""
    found: dict[str, str] = {}

    def walk(v: Any) -> None:
        if isinstance(v, str):
            for part in v.split(";") if len(v) <= _MAX_PATH_CHARS and "\n" not in v else ():
                part = part.strip()
                try:
                    if part and Path(part).is_file():
                        found[part] = file_digest(Path(part))
                except OSError:  # a name too long or unreadable: not an input we can hash
                    continue
        elif isinstance(v, Mapping):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    walk({k: v for k, v in spec.items() if k not in PLACEMENT_FIELDS})
    return dict(sorted(found.items()))


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
        with a default, or a default written out in a JOBS line, does not change the job's id; plus the content
        hashes of the files it names, so a new picture under an old path is a new job."""
        defaults = self.defaults()
        out = {k: v for k, v in spec.items()
               if k not in PLACEMENT_FIELDS and not (k in defaults and _jsonable(v) == defaults[k])}
        digests = input_digests(spec)
        return {**out, INPUTS_KEY: digests} if digests else out

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
