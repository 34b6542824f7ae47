"""Tables of the vocabulary-expansion benchmark in the shape of DOODL's Table 3: per class, each method's target
accuracy and FMNIST-FID, and the change relative to vanilla sampling."""

from __future__ import annotations

from typing import Mapping, Sequence

Metrics = Mapping[str, Mapping[str, float | None]]  # method -> {"target_accuracy", "fid", "seconds", "n"}

KEYS = ("target_accuracy", "fid", "seconds")


def mean_metrics(per_class: Mapping[str, Metrics], methods: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """Unweighted mean over classes of each method's metrics; a metric missing (None) for any class is None."""
    if not per_class:
        raise ValueError("per_class must hold at least one class")
    out: dict[str, dict[str, float | None]] = {}
    for m in methods:
        vals = {k: [c[m][k] for c in per_class.values()] for k in KEYS}
        out[m] = {k: None if any(v is None for v in vs) else sum(vs) / len(vs) for k, vs in vals.items()}  # type: ignore[misc]
    return out


def _delta(value: float | None, base: float | None, fmt: str) -> str:
    return "" if value is None or base is None else f" ({value - base:{fmt}})"


def vocab_table(rows: Mapping[str, Metrics], methods: Sequence[str], labels: Mapping[str, str] | None = None) -> str:
    """Markdown table: one row per class (and any extra rows such as the mean), accuracy and FID per method, with
    the change relative to the first method (vanilla) in brackets, as in DOODL Table 3."""
    labels = labels or {}
    head = " | ".join(f"{labels.get(m, m)} acc | {labels.get(m, m)} FID" for m in methods)
    lines = [f"| class | {head} |", "| --- |" + " ---: | ---: |" * len(methods)]
    base = methods[0]
    for name, mets in rows.items():
        cells = []
        for i, m in enumerate(methods):
            acc, fid = mets[m]["target_accuracy"], mets[m]["fid"]
            b_acc, b_fid = (None, None) if i == 0 else (mets[base]["target_accuracy"], mets[base]["fid"])
            acc_s = "n/a" if acc is None else f"{acc:.2f}{_delta(acc, b_acc, '+.2f')}"
            fid_s = "n/a" if fid is None else f"{fid:.1f}{_delta(fid, b_fid, '+.1f')}"
            cells.append(f"{acc_s} | {fid_s}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
