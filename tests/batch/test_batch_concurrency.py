"""Several workers on one --out: two independent `doodl batch` processes (the zoo's fashion DDPM, 2 steps) share the
queue with no job run twice and every folder whole; a worker killed with SIGKILL mid-job leaves a claim the kernel
releases, so a rerun does each job exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from doodl.batch import parse_jobs
from test_batch_processes import EXECUTOR, env, in_flight, manifest_lines, write_jobs

ZOO_JOB = {"model": "fashion", "task": "classify-guide", "classifier": "fashion-guide", "class": "sneaker",
           "method": "vanilla", "steps": 2, "seeds": "0-5", "device": "cpu"}


def batch_cmd(jobs: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "doodl.cli", "batch", str(jobs), "--out", str(out), "--quiet", *extra]


def check_whole(out: Path, ids: list[str]) -> None:
    """Each job has exactly one 'done' line, a folder with job.json and run.json, and nothing is left in flight."""
    done = [line["id"] for line in manifest_lines(out) if line["status"] == "done"]
    assert sorted(done) == sorted(ids)  # exactly once
    assert sorted(p.name for p in (out / "jobs").iterdir()) == sorted(ids)
    for i in ids:
        assert (out / "jobs" / i / "job.json").is_file() and (out / "jobs" / i / "run.json").is_file()
        run = json.loads((out / "jobs" / i / "run.json").read_text())
        assert run["out_dir"] == str(out / "jobs" / i) and ".tmp-" not in json.dumps(run)  # the final paths
    assert not in_flight(out)


def test_two_batch_processes_on_one_out_share_the_jobs(tmp_path):
    pytest.importorskip("doodl.runs")
    from doodl.zoo import weights_path

    if not (weights_path("fashion-ddpm").is_file() and weights_path("fashion-guide").is_file()):
        pytest.skip("zoo weights not trained")
    jobs_file = tmp_path / "jobs.jsonl"
    jobs_file.write_text(json.dumps(ZOO_JOB) + "\n", encoding="utf-8")
    from doodl.batch import RunExecutor

    ids = [j.id for j in parse_jobs([json.dumps(ZOO_JOB)], RunExecutor()).jobs]
    out = tmp_path / "out"
    procs = [subprocess.Popen(batch_cmd(jobs_file, out), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    check_whole(out, ids)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"]["done"] == len(ids) and summary["totals"]["pending"] == 0


def test_a_worker_killed_mid_job_beside_another_still_gives_exactly_once(tmp_path):
    jobs = write_jobs(tmp_path / "jobs.jsonl", 8)
    out = tmp_path / "out"
    cmd = batch_cmd(tmp_path / "jobs.jsonl", out, "--executor", EXECUTOR)
    victim = subprocess.Popen(cmd, env=env(FAKE_EXECUTOR_SLEEP="0.6"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while not manifest_lines(out) or not in_flight(out):  # one job committed, the next in flight
            assert victim.poll() is None, victim.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the batch did not start in time"
            time.sleep(0.02)
        other = subprocess.Popen(cmd, env=env(FAKE_EXECUTOR_SLEEP="0.3"), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        out_text, err = other.communicate(timeout=180)
        assert other.returncode == 0, err[-3000:]
    finally:
        for p in (victim,):
            if p.poll() is None:
                p.kill()
        victim.stdout.close(), victim.stderr.close()
    rerun = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    done = [line["id"] for line in manifest_lines(out) if line["status"] == "done"]
    assert sorted(done) == sorted(j.id for j in jobs)  # every job exactly once, whoever ran it
    assert sorted(p.name for p in (out / "jobs").iterdir()) == sorted(j.id for j in jobs)
    assert all((out / "jobs" / j.id / "job.json").is_file() for j in jobs)
    assert not in_flight(out) and not list(out.rglob("*.tmp*"))


def test_summary_lock_serialises_workers(tmp_path):
    # Seen in a two-process run: the worker that read the manifest before the other's last commit wrote its
    # (stale) summary last. Reading the manifest and writing the summary now happen under one lock.
    import threading

    from doodl.batch.summary import summary_lock

    order: list[str] = []
    with summary_lock(tmp_path):
        def second() -> None:
            with summary_lock(tmp_path):
                order.append("second")

        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.3)
        order.append("first")  # the other worker is still waiting for the lock
    t.join(timeout=10)
    assert order == ["first", "second"]
