"""The benchmark scripts run (a short version), so they do not rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny models: one thread each, as in-process tests


def test_grad_cost_quick(tmp_path):
    out = tmp_path / "gc.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "grad_cost.py"), "--quick", "--inprocess", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode == 0, r.stderr
    assert "rev/sample" in r.stdout
    rows = json.loads(out.read_text())["rows"]
    assert [row["T"] for row in rows] == [2, 4]
    for row in rows:
        assert row["reversible_saved_mb"] < 0.01  # only the final pair is kept
        assert row["naive_saved_mb"] > 0.1
    assert rows[1]["naive_saved_mb"] > 1.5 * rows[0]["naive_saved_mb"]


def test_doodl_step_quick(tmp_path):
    out = tmp_path / "ds.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "doodl_step.py"), "--quick", "--inprocess", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [row["T"] for row in rows] == [2, 4]
    for row in rows:
        for k in ("ddim", "edict", "reversible", "checkpoint", "naive"):
            assert row[f"{k}_seconds"] > 0


def test_vocab_trace_quick(tmp_path):
    out, png = tmp_path / "trace.json", tmp_path / "trace.png"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "vocab_trace.py"), "--steps", "3", "--opt-steps", "2",
                        "--seeds", "0-1", "--typical-clamp", "3", "--png", str(png), "--json", str(out)],
                       capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [row["update"] for row in rows] == [0, 1, 2]
    assert all(len(row["p_eval"]) == 2 and all(0 <= p <= 1 for p in row["p_eval"]) for row in rows)
    assert png.stat().st_size > 0
