"""The batch loop: skip done jobs, retry failed ones, claim each job, run it, commit it atomically.

Layout of DIR: jobs/<id>/ holds a finished job's files (job.json plus what the executor wrote); jobs/.tmp-<id>-*
are jobs in flight and jobs/.claim-<id> their locks (batch/claims.py); manifest.rank<k>.jsonl are the manifests.
A job is run in a temporary folder while its claim is held, renamed to jobs/<id>, and only then gets its 'done'
line: a run killed at any point loses only the jobs in flight, and any number of workers (torchrun ranks, or
separate `doodl batch` processes on one folder) share the queue without running a job twice.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..io.atomic import atomic_write_text, check_writable_dir
from .claims import Claim, claim_owner, try_claim
from .dist import World, shard
from .executor import Executor
from .jobs import Job, canonical_json
from .manifest import ManifestRecord, ManifestWriter, read_manifest

log = logging.getLogger(__name__)

JOBS_DIR = "jobs"
TMP_PREFIX = ".tmp-"
MAX_ERROR_CHARS = 2000  # keeps one failed job from bloating the manifest with a huge message


@dataclass
class BatchResult:
    """Counts over this run's ranks: jobs finished, already done before it, failed, invalid lines, and jobs that
    workers outside this run handled (or still hold) meanwhile."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    invalid: int = 0
    world_size: int = 1
    elsewhere: int = 0  # pending jobs another process (not a rank of this run) ran or is running
    ran: list[str] = field(default_factory=list)  # ids this rank ran (done or failed), in order

    def line(self) -> str:
        """The final line: 'done N, skipped N, failed N' (plus invalid lines and other workers' jobs if any)."""
        text = f"done {self.done}, skipped {self.skipped}, failed {self.failed}"
        text += f", invalid {self.invalid}" if self.invalid else ""
        return text + (f", left to other workers {self.elsewhere}" if self.elsewhere else "")


def job_dir(out_dir: str | os.PathLike, job_id: str) -> Path:
    """DIR/jobs/<id>: where a finished job's files live."""
    return Path(out_dir) / JOBS_DIR / job_id


def is_done(out_dir: str | os.PathLike, job_id: str, records: dict[str, ManifestRecord]) -> bool:
    """A 'done' manifest line and the job's folder still on disk (a folder deleted afterwards means: run it again)."""
    rec = records.get(job_id)
    return rec is not None and rec.status == "done" and (job_dir(out_dir, job_id) / "job.json").is_file()


def pending(jobs: Sequence[Job], out_dir: str | os.PathLike) -> tuple[list[str], int]:
    """(ids of jobs not done yet, sorted; number already done) from the manifest and the job folders. Failed jobs
    and done jobs whose folder is gone are pending."""
    records = read_manifest(out_dir)
    ids = sorted({j.id for j in jobs})
    todo = [i for i in ids if not is_done(out_dir, i, records)]
    gone = sum(1 for i in todo if i in records and records[i].status == "done")
    if gone:
        log.warning("%d done job(s) have no folder in %s any more; running them again", gone, Path(out_dir) / JOBS_DIR)
    return todo, len(ids) - len(todo)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def _remove_tmp(root: Path, job_id: str) -> int:
    n = 0
    for p in root.glob(f"{TMP_PREFIX}{job_id}-*"):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        n += 1
    return n


def remove_leftovers(out_dir: str | os.PathLike, job_id: str | None = None, *, claim: Claim | None = None) -> int:
    """Delete in-flight folders whose owner is gone; returns how many were removed.

    With `claim` (held by the caller for job_id), that job's folders go. Otherwise each job's folders go only when
    its claim can be taken here, i.e. no live worker holds it; folders of jobs in flight elsewhere are kept.
    """
    root = Path(out_dir) / JOBS_DIR
    if claim is not None:
        return _remove_tmp(root, claim.job_id)
    ids = {job_id} if job_id else {p.name[len(TMP_PREFIX):].split("-", 1)[0] for p in root.glob(f"{TMP_PREFIX}*")}
    n = 0
    for i in sorted(ids):
        held = try_claim(root, i)
        if held is None:
            log.debug("job %s is in flight elsewhere (%s); its folder is kept", i, claim_owner(root, i))
            continue
        with held:
            n += _remove_tmp(root, i)
    return n


def _error_text(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip()
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def _retarget_paths(obj: object, old: str, new: str) -> object:
    """Every string in a JSON value that starts with `old` (a folder) rewritten to start with `new`."""
    if isinstance(obj, str):
        return new + obj[len(old):] if obj == old or obj.startswith(old + os.sep) else obj
    if isinstance(obj, list):
        return [_retarget_paths(v, old, new) for v in obj]
    if isinstance(obj, dict):
        return {k: _retarget_paths(v, old, new) for k, v in obj.items()}
    return obj


def _point_run_json_at(tmp: Path, final: Path) -> None:
    """run.json was written while the job ran in tmp: record the final folder's paths instead."""
    path = tmp / "run.json"
    if not path.is_file():
        return
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return
    atomic_write_text(path, json.dumps(_retarget_paths(record, str(tmp), str(final)), indent=2) + "\n")


def run_job(job: Job, out_dir: Path, executor: Executor, writer: ManifestWriter, rank: int = 0,
            claim: Claim | None = None) -> ManifestRecord:
    """Run one job into a temporary folder, rename it into place, then append its manifest line (the commit).

    The caller holds the job's claim (run_batch does; without `claim` one is taken here, ValueError if another
    worker holds it), so the leftovers of earlier attempts belong to dead workers and are removed first.
    """
    if claim is None:
        own = try_claim(Path(out_dir) / JOBS_DIR, job.id, rank)
        if own is None:
            raise ValueError(f"job {job.id} is being run by another worker ({claim_owner(Path(out_dir) / JOBS_DIR, job.id)})")
        with own:
            return run_job(job, out_dir, executor, writer, rank, own)
    final = job_dir(out_dir, job.id)
    remove_leftovers(out_dir, claim=claim)
    tmp = final.parent / f"{TMP_PREFIX}{job.id}-r{rank}-{socket.gethostname()}-{os.getpid()}"
    tmp.mkdir(parents=True)
    start = time.perf_counter()
    try:
        meta = {"id": job.id, "category": job.category, "line": job.line, "spec": job.spec}
        atomic_write_text(tmp / "job.json", canonical_json(meta) + "\n")
        output = executor.run(job.spec, tmp)
        metrics = {k: float(v) for k, v in output.metrics.items()}
        if "loss" in metrics and not math.isfinite(metrics["loss"]):
            raise FloatingPointError(f"non-finite loss ({metrics['loss']})")
        _point_run_json_at(tmp, final)
    except Exception as e:  # noqa: BLE001 -- any job failure is recorded and the batch goes on
        seconds = time.perf_counter() - start
        shutil.rmtree(tmp, ignore_errors=True)
        _free_cuda_memory()
        log.warning("job %s (line %s) failed after %.1fs: %s", job.id, job.line, seconds, _error_text(e))
        log.debug("job %s traceback", job.id, exc_info=True)
        return writer.append(ManifestRecord(job.id, "failed", seconds, error=_error_text(e)))
    if final.exists():  # renamed into place by a run killed before its manifest line (or left half-deleted)
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    seconds = time.perf_counter() - start
    return writer.append(ManifestRecord(job.id, "done", seconds, metrics=metrics))


def _free_cuda_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _handled_since(out: Path, job_id: str, since: float) -> bool:
    """Another worker finished this job (done, folder present) or recorded it after `since` (e.g. it failed)."""
    records = read_manifest(out)
    rec = records.get(job_id)
    return rec is not None and (is_done(out, job_id, records) or rec.time >= since)


def run_batch(jobs: Sequence[Job], out_dir: str | os.PathLike, executor: Executor, *, world: World | None = None,
              progress: bool = True, invalid: int = 0) -> BatchResult:
    """Run the jobs not yet done in out_dir, over the world's ranks and any other workers on the folder.

    Rank 0 reads the manifest once and broadcasts the pending ids (sorted) and a start time. Each rank walks
    the whole list, its own share pending[r::world_size] first and then the rest, and runs a job only if it can
    claim it (batch/claims.py) and no worker has recorded it since the start: ranks that finish early take over
    the others' remaining jobs, and separate processes on the same folder split the work the same way. All
    ranks meet at a barrier at the end; rank 0 then removes leftovers of dead workers.
    """
    world = world or World()
    out = check_writable_dir(out_dir) if world.is_main else Path(out_dir)
    by_id = {j.id: j for j in jobs}
    since = time.time()  # before the manifest is read: a record at or after it was written during this run
    todo, skipped, since = world.broadcast((*pending(jobs, out), since) if world.is_main else None)
    missing = [i for i in todo if i not in by_id]
    if missing:
        raise ValueError(f"rank {world.rank} has a different job list than rank 0 (no job {missing[0]}); "
                         "every rank must read the same JOBS file")
    mine = shard(todo, world.rank, world.world_size)
    first = set(mine)
    order = mine + [i for i in todo if i not in first]
    log.info("rank %d: %d of %d pending jobs first (%d already done)", world.rank, len(mine), len(todo), skipped)
    writer = ManifestWriter(out, world.rank)
    result = BatchResult(skipped=skipped, invalid=invalid, world_size=world.world_size)
    root = out / JOBS_DIR
    from tqdm.auto import tqdm

    bar = tqdm(total=len(mine), desc=f"rank {world.rank}", position=world.rank, disable=not progress,
               dynamic_ncols=True, leave=True, unit="job")
    try:
        for job_id in order:
            claim = try_claim(root, job_id, world.rank)
            if claim is None:  # another worker has it in flight
                continue
            with claim:
                if _handled_since(out, job_id, since):
                    continue
                rec = run_job(by_id[job_id], out, executor, writer, world.rank, claim)
            result.ran.append(job_id)
            if rec.status == "done":
                result.done += 1
            else:
                result.failed += 1
            if job_id in first:
                bar.update(1)
            bar.set_postfix(done=result.done, failed=result.failed, refresh=False)
    finally:
        bar.close()
    world.barrier()
    counts = world.gather((result.done, result.failed))
    result.done, result.failed = sum(c[0] for c in counts), sum(c[1] for c in counts)
    result.elsewhere = len(todo) - result.done - result.failed
    if world.is_main:
        n = remove_leftovers(out)
        if n:
            log.info("removed %d leftover folder(s) of killed runs", n)
    return result
