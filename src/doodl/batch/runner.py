"""The batch loop: skip done jobs, retry failed ones, run this rank's share, commit each job atomically.

Layout of DIR: jobs/<id>/ holds a finished job's files (job.json plus what the executor wrote); jobs/.tmp-<id>-*
are jobs in flight; manifest.rank<k>.jsonl are the per-rank manifests. A job is run in a temporary folder, renamed
to jobs/<id>, and only then gets its 'done' line: a run killed at any point loses only the jobs in flight.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..io.atomic import atomic_write_text, check_writable_dir
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
    """Counts over all ranks: jobs finished in this run, already done before it, failed in it, invalid lines."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    invalid: int = 0
    world_size: int = 1
    ran: list[str] = field(default_factory=list)  # ids this rank ran (done or failed), in order

    def line(self) -> str:
        """The final line: 'done N, skipped N, failed N' (plus invalid lines when there were some)."""
        text = f"done {self.done}, skipped {self.skipped}, failed {self.failed}"
        return text + (f", invalid {self.invalid}" if self.invalid else "")


def job_dir(out_dir: str | os.PathLike, job_id: str) -> Path:
    """DIR/jobs/<id>: where a finished job's files live."""
    return Path(out_dir) / JOBS_DIR / job_id


def pending(jobs: Sequence[Job], out_dir: str | os.PathLike) -> tuple[list[str], int]:
    """(ids of jobs not done yet, sorted; number already done) from the manifest. Failed jobs are pending."""
    records = read_manifest(out_dir)
    done = {i for i, r in records.items() if r.status == "done"}
    ids = sorted({j.id for j in jobs})
    todo = [i for i in ids if i not in done]
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


def remove_leftovers(out_dir: str | os.PathLike, job_id: str | None = None) -> int:
    """Delete in-flight folders of killed runs (all of them, or one job's); returns how many were removed."""
    root = Path(out_dir) / JOBS_DIR
    pattern = f"{TMP_PREFIX}{job_id}-*" if job_id else f"{TMP_PREFIX}*"
    n = 0
    for p in root.glob(pattern):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        n += 1
    return n


def _error_text(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip()
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def run_job(job: Job, out_dir: Path, executor: Executor, writer: ManifestWriter, rank: int = 0) -> ManifestRecord:
    """Run one job into a temporary folder, rename it into place, then append its manifest line (the commit)."""
    final = job_dir(out_dir, job.id)
    remove_leftovers(out_dir, job.id)
    tmp = final.parent / f"{TMP_PREFIX}{job.id}-r{rank}-{os.getpid()}"
    tmp.mkdir(parents=True)
    start = time.perf_counter()
    try:
        meta = {"id": job.id, "category": job.category, "line": job.line, "spec": job.spec}
        atomic_write_text(tmp / "job.json", canonical_json(meta) + "\n")
        output = executor.run(job.spec, tmp)
        metrics = {k: float(v) for k, v in output.metrics.items()}
        if "loss" in metrics and not math.isfinite(metrics["loss"]):
            raise FloatingPointError(f"non-finite loss ({metrics['loss']})")
    except Exception as e:  # noqa: BLE001 -- any job failure is recorded and the batch goes on
        seconds = time.perf_counter() - start
        shutil.rmtree(tmp, ignore_errors=True)
        _free_cuda_memory()
        log.warning("job %s (line %s) failed after %.1fs: %s", job.id, job.line, seconds, _error_text(e))
        log.debug("job %s traceback", job.id, exc_info=True)
        return writer.append(ManifestRecord(job.id, "failed", seconds, error=_error_text(e)))
    if final.exists():  # renamed into place by a run killed before its manifest line: never committed
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    seconds = time.perf_counter() - start
    return writer.append(ManifestRecord(job.id, "done", seconds, metrics=metrics))


def _free_cuda_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_batch(jobs: Sequence[Job], out_dir: str | os.PathLike, executor: Executor, *, world: World | None = None,
              progress: bool = True, invalid: int = 0) -> BatchResult:
    """Run the jobs not yet done in out_dir, sharded over the world's ranks; returns counts over all ranks.

    Rank 0 reads the manifest once and broadcasts the pending ids, sorted; rank r takes pending[r::world_size].
    Sharding what is pending (not all jobs) keeps ranks balanced on a resumed run and covers every job exactly
    once whatever the world size of earlier runs. All ranks meet at a barrier at the end; rank 0 then removes
    leftovers of killed runs.
    """
    world = world or World()
    out = check_writable_dir(out_dir) if world.is_main else Path(out_dir)
    by_id = {j.id: j for j in jobs}
    todo, skipped = world.broadcast(pending(jobs, out) if world.is_main else None)
    missing = [i for i in todo if i not in by_id]
    if missing:
        raise ValueError(f"rank {world.rank} has a different job list than rank 0 (no job {missing[0]}); "
                         "every rank must read the same JOBS file")
    mine = shard(todo, world.rank, world.world_size)
    log.info("rank %d: %d of %d pending jobs (%d already done)", world.rank, len(mine), len(todo), skipped)
    writer = ManifestWriter(out, world.rank)
    result = BatchResult(skipped=skipped, invalid=invalid, world_size=world.world_size)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(mine), desc=f"rank {world.rank}", position=world.rank, disable=not progress,
               dynamic_ncols=True, leave=True, unit="job")
    try:
        for job_id in mine:
            rec = run_job(by_id[job_id], out, executor, writer, world.rank)
            result.ran.append(job_id)
            if rec.status == "done":
                result.done += 1
            else:
                result.failed += 1
            bar.update(1)
            bar.set_postfix(done=result.done, failed=result.failed, refresh=False)
    finally:
        bar.close()
    world.barrier()
    counts = world.gather((result.done, result.failed))
    result.done, result.failed = sum(c[0] for c in counts), sum(c[1] for c in counts)
    if world.is_main:
        n = remove_leftovers(out)
        if n:
            log.info("removed %d leftover folder(s) of killed runs", n)
    return result
