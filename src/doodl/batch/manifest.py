"""The batch manifest: append-only JSONL, one file per rank, each line fsynced; its line is a job's commit point.

A job counts as done only once its 'done' line is on disk, after its output folder has been renamed into place.
Readers merge every manifest.rank<k>.jsonl in the folder: a 'done' line is final, otherwise the newest line of a
job wins. A process killed mid-write leaves at most a torn last line, which readers skip and writers close off.
Separate processes with the same rank (two `doodl batch` runs on one folder) share a file: each append and the
torn-line repair hold an flock on it, so lines never interleave.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PATTERN = "manifest.rank*.jsonl"
STATUSES = ("done", "failed")


@dataclass(frozen=True)
class ManifestRecord:
    """One manifest line: a job's outcome."""

    id: str
    status: str  # 'done' or 'failed'
    seconds: float = 0.0  # wall time of the job on its rank
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None  # 'Type: message' for failed jobs
    rank: int = 0
    host: str = ""
    pid: int = 0  # the writing process (several processes may share a rank's file)
    time: float = 0.0  # unix time the line was written (orders a job's lines across files)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; non-finite metrics become null (JSON has no NaN)."""
        d = asdict(self)
        d["metrics"] = {k: (v if v is None or math.isfinite(v) else None) for k, v in self.metrics.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ManifestRecord:
        """Inverse of to_dict; ValueError when a required field is missing or the status unknown."""
        if not isinstance(d, dict) or not isinstance(d.get("id"), str) or d.get("status") not in STATUSES:
            raise ValueError("manifest line lacks an id or a known status")
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


def manifest_path(out_dir: str | os.PathLike, rank: int) -> Path:
    """DIR/manifest.rank<k>.jsonl: each rank appends only to its own file."""
    return Path(out_dir) / f"manifest.rank{int(rank)}.jsonl"


def _read_file(path: Path) -> list[ManifestRecord]:
    data = path.read_bytes()
    lines = data.split(b"\n")
    out = []
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            out.append(ManifestRecord.from_dict(json.loads(raw.decode("utf-8"))))
        except (ValueError, UnicodeDecodeError, TypeError):
            # a torn line is expected only last (a killed writer); anything else is worth a warning
            torn = i == len(lines) - 1 or (i == len(lines) - 2 and not lines[-1])
            (log.debug if torn else log.warning)("skipping unreadable line %d of %s", i + 1, path)
    return out


def read_manifest(out_dir: str | os.PathLike) -> dict[str, ManifestRecord]:
    """Current record per job id over all rank files: the first 'done' line if any, else the newest line."""
    records: dict[str, ManifestRecord] = {}
    for path in sorted(Path(out_dir).glob(PATTERN)):
        for rec in _read_file(path):
            old = records.get(rec.id)
            if old is None or (old.status != "done" and (rec.status == "done" or rec.time >= old.time)):
                records[rec.id] = rec
    return records


class ManifestWriter:
    """Appends records to one rank's manifest; each line is written whole, flushed and fsynced before returning."""

    def __init__(self, out_dir: str | os.PathLike, rank: int = 0):
        self.path = manifest_path(out_dir, rank)
        self.rank = int(rank)
        self.host = socket.gethostname()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._close_torn_line()

    def _close_torn_line(self) -> None:
        """End a torn last line (left by a killed process) with a newline so the next record starts on its own."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when f closes
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
                log.warning("closed a torn last line in %s (a previous run was killed while writing)", self.path)

    def append(self, record: ManifestRecord) -> ManifestRecord:
        """Write one record as a line; returns it with rank, host and time filled in."""
        rec = ManifestRecord(**{**asdict(record), "rank": self.rank, "host": self.host, "pid": os.getpid(),
                                "time": time.time()})
        line = (json.dumps(rec.to_dict(), ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd closes
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        return rec
