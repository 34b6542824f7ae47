"""Real processes: a 2-rank gloo run under torchrun splits the jobs with no overlap and no gap; a run killed with
SIGKILL and run again does every job exactly once and leaves no partial files. The executor is the fast fake."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from doodl.batch import job_dir, parse_jobs, read_manifest, shard
from doodl.io import load_image

HERE = Path(__file__).resolve().parent
EXECUTOR = "fake_executor:FakeExecutor"


def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TORCH_CPP_LOG_LEVEL="ERROR", **extra)
    e["PYTHONPATH"] = os.pathsep.join([str(HERE), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return e


def write_jobs(path: Path, n: int) -> list:
    from fake_executor import FakeExecutor

    lines = [json.dumps({"prompt": f"prompt {i // 2}", "seed": i % 2, "category": "c"}) for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return parse_jobs(lines, FakeExecutor()).jobs


def manifest_lines(out: Path) -> list[dict]:
    out_lines = []
    for p in sorted(out.glob("manifest.rank*.jsonl")):
        out_lines += [json.loads(s) for s in p.read_text().splitlines() if s.strip()]
    return out_lines


def in_flight(out: Path) -> list[Path]:
    return list((out / "jobs").glob(".tmp-*")) if (out / "jobs").is_dir() else []


def test_two_gloo_ranks_split_the_jobs_without_overlap_or_gap(tmp_path):
    jobs = write_jobs(tmp_path / "jobs.jsonl", 10)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
           "-m", "doodl.cli", "batch", str(tmp_path / "jobs.jsonl"), "--out", str(tmp_path / "out"),
           "--executor", EXECUTOR, "--quiet"]
    proc = subprocess.run(cmd, env=env(FAKE_EXECUTOR_SLEEP="0.05"), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = manifest_lines(tmp_path / "out")
    ids = sorted(j.id for j in jobs)
    assert sorted(line["id"] for line in lines) == ids  # each job once: no overlap, no gap
    assert all(line["status"] == "done" for line in lines)
    by_rank = {r: {line["id"] for line in lines if line["rank"] == r} for r in (0, 1)}
    # each rank starts on its own share (and may then take over the other's remaining jobs)
    assert by_rank[0] and by_rank[1] and set(by_rank) == {line["rank"] for line in lines}
    assert sorted(shard(ids, 0, 2))[0] in by_rank[0] and sorted(shard(ids, 1, 2))[0] in by_rank[1]
    assert (tmp_path / "out" / "manifest.rank1.jsonl").is_file()
    assert proc.stdout.count("done 10, skipped 0, failed 0") == 1  # only rank 0 prints the final line
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["totals"]["done"] == 10


def test_a_killed_run_resumes_with_every_job_done_once(tmp_path):
    jobs = write_jobs(tmp_path / "jobs.jsonl", 8)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "doodl.cli", "batch", str(tmp_path / "jobs.jsonl"), "--out", str(out),
           "--executor", EXECUTOR, "--quiet"]
    proc = subprocess.Popen(cmd, env=env(FAKE_EXECUTOR_SLEEP="0.6"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        # wait for 2 committed jobs and a third in flight (its temporary folder exists), then kill mid-job
        while sum(line["status"] == "done" for line in manifest_lines(out)) < 2 or not in_flight(out):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the batch did not finish 2 jobs in time"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close(), proc.stderr.close()
    before = {line["id"] for line in manifest_lines(out)}
    assert 2 <= len(before) < len(jobs) and in_flight(out)  # the kill left a partial job behind
    assert not (out / "summary.json").exists()
    rerun = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"done {len(jobs) - len(before)}, skipped {len(before)}, failed 0" in rerun.stdout
    done = [line["id"] for line in manifest_lines(out) if line["status"] == "done"]
    assert sorted(done) == sorted(j.id for j in jobs)  # every job exactly once
    assert not list((out / "jobs").glob(".tmp-*")) and not list(out.rglob("*.tmp*"))
    assert sorted(p.name for p in (out / "jobs").iterdir()) == sorted(j.id for j in jobs)
    for j in jobs:
        assert load_image(job_dir(out, j.id) / f"seed-{j.spec['seeds'][0]}.png").shape == (1, 3, 16, 16)
    assert set(read_manifest(out)) == {j.id for j in jobs}


@pytest.mark.parametrize("world_size", [2])
def test_world_from_launcher_variables_is_checked(monkeypatch, world_size):
    from doodl.batch import init_world

    monkeypatch.setenv("WORLD_SIZE", str(world_size))
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(ValueError, match="inconsistent"):
        init_world()
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    world = init_world()
    assert (world.rank, world.world_size, world.distributed) == (0, 1, False)
    assert world.broadcast([1]) == [1] and world.gather(3) == [3]
