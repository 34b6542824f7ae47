"""The manifest: per-rank files merged, done is final, newest failure wins, torn lines skipped and closed off."""

from __future__ import annotations

import json

from doodl.batch import ManifestRecord, ManifestWriter, manifest_path, read_manifest


def test_records_round_trip_and_merge_across_ranks(tmp_path):
    w0, w1 = ManifestWriter(tmp_path, 0), ManifestWriter(tmp_path, 1)
    w0.append(ManifestRecord("a", "done", 1.5, {"loss": 0.25}))
    w1.append(ManifestRecord("b", "failed", 0.1, error="ValueError: bad"))
    recs = read_manifest(tmp_path)
    assert set(recs) == {"a", "b"}
    assert recs["a"].status == "done" and recs["a"].metrics == {"loss": 0.25} and recs["a"].rank == 0
    assert recs["b"].error == "ValueError: bad" and recs["b"].rank == 1 and recs["b"].time > 0
    assert manifest_path(tmp_path, 1).read_text().count("\n") == 1


def test_done_is_final_and_the_newest_failure_wins(tmp_path):
    w0, w1 = ManifestWriter(tmp_path, 0), ManifestWriter(tmp_path, 1)
    w1.append(ManifestRecord("a", "failed", error="first"))
    w0.append(ManifestRecord("a", "failed", error="second"))
    assert read_manifest(tmp_path)["a"].error == "second"
    w1.append(ManifestRecord("a", "done"))
    w0.append(ManifestRecord("a", "failed", error="late"))
    assert read_manifest(tmp_path)["a"].status == "done"


def test_non_finite_metrics_are_stored_as_null(tmp_path):
    ManifestWriter(tmp_path).append(ManifestRecord("a", "done", metrics={"loss": float("nan")}))
    line = json.loads(manifest_path(tmp_path, 0).read_text())
    assert line["metrics"] == {"loss": None}


def test_torn_last_line_is_skipped_then_closed_off(tmp_path):
    w = ManifestWriter(tmp_path, 0)
    w.append(ManifestRecord("a", "done"))
    path = manifest_path(tmp_path, 0)
    with open(path, "ab") as f:  # a writer killed mid-line
        f.write(b'{"id": "b", "status": "do')
    assert set(read_manifest(tmp_path)) == {"a"}
    ManifestWriter(tmp_path, 0).append(ManifestRecord("c", "done"))
    assert set(read_manifest(tmp_path)) == {"a", "c"}
    assert path.read_bytes().endswith(b"\n") and path.read_text().count("\n") == 3


def test_unknown_status_lines_are_ignored(tmp_path):
    manifest_path(tmp_path, 2).write_text('{"id": "a", "status": "running"}\n{"id": "b", "status": "done"}\n')
    assert set(read_manifest(tmp_path)) == {"b"}
