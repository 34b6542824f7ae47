"""Job claims: a worker runs a job only while it holds that job's lock file, so any number of workers share a folder.

DIR/jobs/.claim-<id> is locked with flock(LOCK_EX | LOCK_NB) for as long as the job is in flight. Two independent
`doodl batch` processes, torchrun ranks, or workers on several hosts of one shared file system therefore never run
the same job at once. The kernel drops the lock when its holder dies in any way (SIGKILL included), so a claim
that can be taken is proof that whoever held it before is gone, and only then are that job's leftovers removed.
The file holds the owner's host, pid, rank and start time, for people reading the folder; the lock is the truth.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

CLAIM_PREFIX = ".claim-"
_STARTED = time.time()  # this process's start, written into its claims


@dataclass
class Claim:
    """A held claim on one job: release() (or the process's death) frees it."""

    job_id: str
    path: Path
    fd: int

    def release(self) -> None:
        """Unlink the lock file while still holding it, then drop the lock (see try_claim for why in that order)."""
        if self.fd < 0:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_path(jobs_root: str | os.PathLike, job_id: str) -> Path:
    """DIR/jobs/.claim-<id>."""
    return Path(jobs_root) / f"{CLAIM_PREFIX}{job_id}"


def try_claim(jobs_root: str | os.PathLike, job_id: str, rank: int = 0) -> Claim | None:
    """Take the job's claim without waiting; None when another live worker holds it.

    After the lock is granted, the path must still name the locked file: a holder unlinks the file before
    unlocking, so a worker that opened the old file and locked it after the release sees a different (or no) file
    at the path and tries again on the new one. That keeps one holder per job even while files come and go.
    """
    path = claim_path(jobs_root, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        owner = {"host": socket.gethostname(), "pid": os.getpid(), "rank": int(rank), "started": _STARTED,
                 "claimed": time.time()}
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(owner) + "\n").encode())
        return Claim(job_id, path, fd)


def claim_owner(jobs_root: str | os.PathLike, job_id: str) -> dict | None:
    """What the holder of a job's claim wrote about itself (None when there is no readable claim file)."""
    try:
        return json.loads(claim_path(jobs_root, job_id).read_text())
    except (OSError, ValueError):
        return None
