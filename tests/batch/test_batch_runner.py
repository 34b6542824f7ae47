"""The batch loop in one process with the fake executor: skip, retry, failures, edits, leftovers, sharding."""

from __future__ import annotations

import json

import pytest
from fake_executor import FakeExecutor

from doodl.batch import (
    ManifestRecord,
    ManifestWriter,
    World,
    job_dir,
    manifest_path,
    parse_jobs,
    pending,
    read_manifest,
    run_batch,
    shard,
)
from doodl.io import load_image


def make(*objs, executor=None):
    return parse_jobs([json.dumps(o) for o in objs], executor or FakeExecutor()).jobs


def done_lines(out) -> list[str]:
    ids = []
    for p in sorted(out.glob("manifest.rank*.jsonl")):
        ids += [json.loads(line)["id"] for line in p.read_text().splitlines() if '"done"' in line]
    return ids


def test_runs_every_job_then_skips_them(tmp_path):
    jobs = make({"prompt": "a", "seeds": "0-2"}, {"prompt": "b", "seed": 7, "method": "vanilla"})
    first = run_batch(jobs, tmp_path, FakeExecutor(), progress=False)
    assert (first.done, first.skipped, first.failed) == (4, 0, 0)
    assert first.line() == "done 4, skipped 0, failed 0"
    for j in jobs:
        folder = job_dir(tmp_path, j.id)
        seed = j.spec["seeds"][0]
        assert load_image(folder / f"seed-{seed}.png").shape == (1, 3, 16, 16)
        assert json.loads((folder / "job.json").read_text())["spec"] == j.spec
    again = run_batch(jobs, tmp_path, FakeExecutor(), progress=False)
    assert (again.done, again.skipped, again.failed) == (0, 4, 0)
    assert sorted(done_lines(tmp_path)) == sorted(j.id for j in jobs)


def test_a_failing_job_is_recorded_and_the_batch_goes_on(tmp_path):
    jobs = make({"prompt": "a"}, {"prompt": "b", "fail": "no such model 'x'"}, {"prompt": "c", "loss": "nan"},
                {"prompt": "d"})
    result = run_batch(jobs, tmp_path, FakeExecutor(), progress=False)
    assert (result.done, result.failed) == (2, 2)
    recs = read_manifest(tmp_path)
    assert recs[jobs[1].id].error == "ValueError: no such model 'x'"
    assert "non-finite loss" in recs[jobs[2].id].error
    assert not job_dir(tmp_path, jobs[1].id).exists() and not job_dir(tmp_path, jobs[2].id).exists()
    assert recs[jobs[3].id].status == "done"


def test_failed_jobs_are_retried(tmp_path):
    flag = tmp_path / "flag"
    flag.touch()
    jobs = make({"prompt": "a"}, {"prompt": "b", "fail_if_exists": str(flag)})
    assert run_batch(jobs, tmp_path / "out", FakeExecutor(), progress=False).failed == 1
    flag.unlink()
    result = run_batch(jobs, tmp_path / "out", FakeExecutor(), progress=False)
    assert (result.done, result.skipped, result.failed) == (1, 1, 0)
    assert result.ran == [jobs[1].id]
    assert read_manifest(tmp_path / "out")[jobs[1].id].status == "done"


def test_an_edited_jobs_file_reruns_only_what_changed(tmp_path):
    old = make({"prompt": "a", "seeds": "0-1"}, {"prompt": "b"})
    run_batch(old, tmp_path, FakeExecutor(), progress=False)
    new = make({"prompt": "a", "seeds": "0-2"}, {"prompt": "b, edited"})
    result = run_batch(new, tmp_path, FakeExecutor(), progress=False)
    changed = {j.id for j in new} - {j.id for j in old}
    assert len(changed) == 2 and set(result.ran) == changed and result.skipped == 2


def test_leftovers_of_a_killed_run_are_cleaned(tmp_path):
    a, b = make({"prompt": "a"}, {"prompt": "b"})
    stale_tmp = tmp_path / "jobs" / f".tmp-{a.id}-r0-123"
    stale_tmp.mkdir(parents=True)
    (stale_tmp / "seed-0.png").write_bytes(b"\x89PNG half")
    orphan = tmp_path / "jobs" / ".tmp-0123456789abcdef-r1-9"  # a job no longer in JOBS
    orphan.mkdir()
    uncommitted = job_dir(tmp_path, b.id)  # renamed into place, killed before its manifest line
    uncommitted.mkdir()
    (uncommitted / "junk.txt").write_text("x")
    result = run_batch([a, b], tmp_path, FakeExecutor(), progress=False)
    assert result.done == 2
    assert not list((tmp_path / "jobs").glob(".tmp-*"))
    assert not (uncommitted / "junk.txt").exists() and (uncommitted / "seed-0.png").is_file()


def test_shard_covers_everything_once():
    items = list(range(11))
    for world in (1, 2, 3, 5):
        parts = [shard(items, r, world) for r in range(world)]
        assert sorted(sum(parts, [])) == items
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    with pytest.raises(ValueError, match="rank"):
        shard(items, 2, 2)


def test_pending_after_a_run_with_another_world_size(tmp_path):
    jobs = make({"prompt": "a", "seeds": "0-6"})
    # an earlier 3-rank run finished some jobs on each rank and failed one
    for r, j in enumerate(jobs[:4]):
        ManifestWriter(tmp_path, r % 3).append(ManifestRecord(j.id, "done" if r else "failed"))
        job_dir(tmp_path, j.id).mkdir(parents=True)
        (job_dir(tmp_path, j.id) / "job.json").write_text("{}")
    todo, skipped = pending(jobs, tmp_path)
    assert skipped == 3 and sorted(todo) == sorted([jobs[0].id] + [j.id for j in jobs[4:]])
    # now two ranks share what is left: together they cover it exactly once
    assert sorted(shard(todo, 0, 2) + shard(todo, 1, 2)) == sorted(todo)


def test_a_rank_with_another_job_list_is_refused(tmp_path):
    class Rank1(World):
        def broadcast(self, obj):
            return (["ffffffffffffffff"], 0, 0.0)

    with pytest.raises(ValueError, match="different job list"):
        run_batch(make({"prompt": "a"}), tmp_path, FakeExecutor(), world=Rank1(rank=1, world_size=2), progress=False)
    assert not manifest_path(tmp_path, 1).exists()


def test_a_done_job_whose_folder_was_deleted_runs_again(tmp_path):
    from doodl.batch import summarize

    a, b = make({"prompt": "a"}, {"prompt": "b"})
    run_batch([a, b], tmp_path, FakeExecutor(), progress=False)
    import shutil

    shutil.rmtree(job_dir(tmp_path, a.id))
    rows = {r.id: r for r in summarize([a, b], read_manifest(tmp_path), tmp_path).jobs}
    assert rows[a.id].status == "pending" and rows[a.id].path is None and rows[b.id].status == "done"
    assert pending([a, b], tmp_path) == ([a.id], 1)
    again = run_batch([a, b], tmp_path, FakeExecutor(), progress=False)
    assert (again.done, again.skipped, again.ran) == (1, 1, [a.id])
    assert (job_dir(tmp_path, a.id) / "seed-0.png").is_file()


class RunJsonExecutor(FakeExecutor):
    """Writes a run.json naming its folder, as doodl.runs.execute does."""

    def run(self, spec, out_dir):
        output = super().run(spec, out_dir)
        record = {"out_dir": str(out_dir), "seeds": [{"image": str(out_dir / "seed-0.png")}], "model": "m"}
        (out_dir / "run.json").write_text(json.dumps(record))
        return output


def test_run_json_records_the_final_folder_not_the_temporary_one(tmp_path):
    (a,) = make({"prompt": "a"})
    run_batch([a], tmp_path, RunJsonExecutor(), progress=False)
    record = json.loads((job_dir(tmp_path, a.id) / "run.json").read_text())
    assert record == {"out_dir": str(job_dir(tmp_path, a.id)), "model": "m",
                      "seeds": [{"image": str(job_dir(tmp_path, a.id) / "seed-0.png")}]}


def test_a_job_claimed_by_a_live_worker_is_left_alone(tmp_path):
    from doodl.batch import remove_leftovers, run_job
    from doodl.batch.claims import try_claim

    a, b = make({"prompt": "a"}, {"prompt": "b"})
    theirs = tmp_path / "jobs" / f".tmp-{a.id}-r0-otherhost-1"
    theirs.mkdir(parents=True)
    (theirs / "job.json").write_text("{}")
    claim = try_claim(tmp_path / "jobs", a.id)  # another worker's claim, as far as this code can tell
    assert claim is not None and try_claim(tmp_path / "jobs", a.id) is None  # one holder at a time
    with pytest.raises(ValueError, match="another worker"):
        run_job(a, tmp_path, FakeExecutor(), ManifestWriter(tmp_path))
    result = run_batch([a, b], tmp_path, FakeExecutor(), progress=False)
    assert (result.done, result.elsewhere, result.ran) == (1, 1, [b.id])
    assert result.line() == "done 1, skipped 0, failed 0, left to other workers 1"
    assert (theirs / "job.json").is_file() and remove_leftovers(tmp_path) == 0  # its folder is kept
    claim.release()
    assert remove_leftovers(tmp_path) == 1 and not theirs.exists()  # the owner is gone: now it may go
    assert run_batch([a, b], tmp_path, FakeExecutor(), progress=False).ran == [a.id]
