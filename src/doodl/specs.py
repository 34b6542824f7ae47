"""The run specs' compound values: seed ranges (`0-3,7`) and guide specs (`NAME[:weight][,key=value...]`).

Shared by the CLI (cli/options.py wraps them as click types), RunSpec (runs/) and batch jobs (batch/), which
therefore never import the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_SEEDS = 10_000  # one run's limit: a typo like 0-99999 should fail fast, not queue 100k images


def parse_seeds(text: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7]; ranges are inclusive, order kept, duplicates dropped; seeds 0..2**32-1."""
    from .optimizer.seeds import check_seed_range

    ranges: list[tuple[int, int]] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                raise ValueError
            lo, _, hi = part.partition("-")
            a, b = int(lo), int(hi) if hi else int(lo)
            if a < 0 or b < a:
                raise ValueError
            ranges.append((a, b))
    except ValueError:
        raise ValueError(f"--seed must look like '0', '0-3' or '0-3,7' with non-negative ascending ranges, got {text!r}") from None
    check_seed_range([b for _, b in ranges], "--seed")
    total = sum(b - a + 1 for a, b in ranges)
    if total > MAX_SEEDS:
        raise ValueError(f"--seed selects {total} seeds; at most {MAX_SEEDS}")
    return list(dict.fromkeys(s for a, b in ranges for s in range(a, b + 1)))


@dataclass(frozen=True)
class GuideSpec:
    """One `--guide` option: a scorer name, its weight and keyword options."""

    name: str
    weight: float = 1.0
    options: dict[str, str] = field(default_factory=dict)


def parse_guide(text: str) -> GuideSpec:
    """'clip-text:0.5,prompt=a red cube' -> GuideSpec('clip-text', 0.5, {'prompt': 'a red cube'})."""
    head, *rest = str(text).split(",")
    name, _, w = head.partition(":")
    name = name.strip()
    if not name:
        raise ValueError(f"--guide must start with a scorer name, got {text!r}")
    try:
        weight = float(w) if w else 1.0
    except ValueError:
        raise ValueError(f"--guide {name}: weight must be a number, got {w!r}") from None
    if weight != weight or weight < 0:
        raise ValueError(f"--guide {name}: weight must be >= 0, got {w!r}")
    opts: dict[str, str] = {}
    for item in rest:
        if "=" not in item:
            if opts:  # a comma inside the previous value
                last = next(reversed(opts))
                opts[last] += "," + item
                continue
            raise ValueError(f"--guide {name}: expected key=value after the name, got {item!r}")
        k, _, v = item.partition("=")
        opts[k.strip()] = v.strip()
    return GuideSpec(name, weight, opts)
