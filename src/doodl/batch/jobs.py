"""Batch jobs: JSONL parsing with line-numbered errors, one job per seed, ids hashed from each job's content."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..optimizer.seeds import check_seed_range
from ..specs import parse_seeds
from .drawbench import drawbench_prompts
from .executor import Executor

log = logging.getLogger(__name__)

ID_LENGTH = 16  # hex digits of sha256: 64 bits, no collision in any batch a person will run
METHODS = ("doodl", "one_step", "vanilla")


@dataclass(frozen=True)
class Job:
    """One unit of work: an executor spec with a single seed, its content id and its summary category."""

    id: str  # job_id(executor.identity(spec))
    spec: dict[str, Any]  # the executor's canonical spec
    category: str = ""  # summary group ('' when the JOBS line gives none)
    line: int | None = None  # line of the JOBS file it came from (None for generated jobs)


@dataclass
class JobList:
    """Parsed jobs plus what was left out: invalid lines (with --skip-invalid) and exact duplicates."""

    jobs: list[Job] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # one message per skipped line, naming the line
    duplicates: int = 0


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, no NaN: equal content gives equal text whatever the key order in the JOBS line."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def job_id(identity: Mapping[str, Any]) -> str:
    """First 16 hex digits of sha256 over the canonical JSON of a job's identity."""
    return hashlib.sha256(canonical_json(dict(identity)).encode("utf-8")).hexdigest()[:ID_LENGTH]


def expand_seeds(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A job dict with 'seed' (int) or 'seeds' ('0-8', int or list) -> one dict per seed, each with 'seeds': [s]."""
    if "seed" in raw and "seeds" in raw:
        raise ValueError("give either 'seed' or 'seeds', not both")
    value = raw.get("seed", raw.get("seeds", 0))
    if isinstance(value, bool):
        raise ValueError(f"seed must be a non-negative integer, got {value!r}")
    if isinstance(value, int):
        seeds = parse_seeds(str(value)) if value >= 0 else []
    elif isinstance(value, str):
        seeds = parse_seeds(value)
    elif isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
        seeds = list(dict.fromkeys(value))
        check_seed_range(seeds, "seeds")
    else:
        seeds = []
    if not seeds:
        raise ValueError(f"seed(s) must be a non-negative integer, a range like '0-8' or a list of them, got {value!r}")
    base = {k: v for k, v in raw.items() if k not in ("seed", "seeds")}
    return [{**base, "seeds": [s]} for s in seeds]


def make_jobs(raw: Mapping[str, Any], executor: Executor, line: int | None = None) -> list[Job]:
    """Validate one job dict through the executor and expand it per seed; 'category' is kept apart from the spec."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"a job must be a JSON object, got {type(raw).__name__}")
    category = raw.get("category", "")
    if not isinstance(category, str):
        raise ValueError(f"category must be a string, got {category!r}")
    body = {k: v for k, v in raw.items() if k != "category"}
    out = []
    for one in expand_seeds(body):
        spec = executor.normalize(one)
        out.append(Job(job_id(executor.identity(spec)), spec, category.strip(), line))
    return out


def _dedupe(jobs: Iterable[Job], result: JobList) -> None:
    seen = {j.id for j in result.jobs}
    for j in jobs:
        if j.id in seen:
            result.duplicates += 1
            continue
        seen.add(j.id)
        result.jobs.append(j)


def _decode(line: str | bytes) -> str:
    """A JOBS line as text; ValueError naming the first byte that is not UTF-8."""
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text (byte 0x{line[e.start]:02x} at column {e.start + 1})") from None


def parse_jobs(lines: Iterable[str | bytes], executor: Executor, *, skip_invalid: bool = False,
               source: str = "JOBS") -> JobList:
    """Jobs from JSONL text (str lines, or bytes decoded as UTF-8), one JSON object per line (blank lines skipped);
    errors name the 1-based line number.

    Without skip_invalid the first bad line raises ValueError (telling how many others are bad); with it, bad
    lines are listed in JobList.invalid and the rest are kept. Jobs with equal ids are kept once.
    """
    result, errors = JobList(), []
    for number, line in enumerate(lines, start=1):
        try:
            text = _decode(line).strip().lstrip("\ufeff")
            if not text:
                continue
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"invalid JSON ({e.msg} at column {e.colno})") from None
            jobs = make_jobs(raw, executor, number)
        except (ValueError, TypeError, KeyError) as e:
            msg = str(e.args[0] if isinstance(e, KeyError) and e.args else e) or type(e).__name__
            errors.append(f"{source} line {number}: {msg}")
            continue
        _dedupe(jobs, result)
    if errors and not skip_invalid:
        more = f" ({len(errors) - 1} more invalid line(s))" if len(errors) > 1 else ""
        raise ValueError(f"{errors[0]}{more}; fix it or pass --skip-invalid to run the other jobs")
    for e in errors:
        log.warning("skipping %s", e)
    result.invalid = errors
    if result.duplicates:
        log.info("%d duplicate job(s) in %s kept once", result.duplicates, source)
    return result


def read_jobs(path: str | os.PathLike, executor: Executor, *, skip_invalid: bool = False) -> JobList:
    """parse_jobs over a JSONL file; FileNotFoundError naming the path when it is missing."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"JOBS file not found: {str(p)!r}")
    with open(p, "rb") as f:  # bytes: a line that is not UTF-8 is reported with its number, not as a traceback
        return parse_jobs(f, executor, skip_invalid=skip_invalid, source=p.name)


def drawbench_jobs(selected: str | Sequence[str], seeds: Sequence[int], methods: Sequence[str], base: Mapping[str, Any],
                   executor: Executor) -> JobList:
    """One job per DrawBench prompt x seed x method (DOODL §5.1: DALL-E and Reddit, 9 seeds), over `base` options."""
    # one-step (the task commands' spelling) and one_step (the API's) name the same method
    methods = list(dict.fromkeys(m.strip().replace("-", "_") for m in methods if m.strip()))
    bad = [m for m in methods if m not in METHODS]
    if not methods or bad:
        names = ", ".join(m.replace("_", "-") for m in METHODS)
        raise ValueError(f"--method must list some of {names}, got {','.join(methods) or 'nothing'}")
    if not seeds:
        raise ValueError("--seed must select at least one seed")
    if any(k in base for k in ("prompt", "method", "seed", "seeds", "category")):
        raise ValueError("base options must not set prompt, method, seeds or category (the DrawBench expansion does)")
    result = JobList()
    for p in drawbench_prompts(selected if isinstance(selected, str) else list(selected)):
        for method in methods:
            raw = {**base, "prompt": p.prompt, "method": method, "seeds": list(seeds), "category": p.category}
            _dedupe(make_jobs(raw, executor), result)
    return result
