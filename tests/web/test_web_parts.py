"""The page's plain parts without Gradio: form -> RunSpec, upload checks, the one-job runner (progress, Cancel)."""

from __future__ import annotations

import threading

import pytest
from PIL import Image

from doodl.web import Busy, JobRunner, check_upload, spec_from_form
from doodl.web.form import DEFAULT_GUIDE

ZOO = dict(task="generate", model="fashion", prompt="", guides=DEFAULT_GUIDE, method="DOODL", seeds="0", steps=4,
           updates=3, lr=None, device="cpu")


def test_form_builds_the_cli_spec():
    spec = spec_from_form(**{**ZOO, "seeds": "0-2", "lr": 0.2})
    assert spec.model == "fashion" and spec.seeds == (0, 1, 2) and spec.opt_steps == 3 and spec.lr == 0.2
    assert [g.name for g in spec.guides] == ["classifier"] and spec.method == "doodl"
    two = spec_from_form(**{**ZOO, "guides": "brightness:0.5\n\nclassifier:1,classifier=fashion-guide,class=2"})
    assert [(g.name, g.weight) for g in two.guides] == [("brightness", 0.5), ("classifier", 1.0)]
    cg = spec_from_form(**{**ZOO, "task": "classify-guide", "guides": "", "classifier": "fashion-guide", "class_index": 3.0})
    assert cg.class_index == 3 and cg.classifier == "fashion-guide"


@pytest.mark.parametrize("change, message", [
    ({"guides": "pick-score"}, "unknown guide 'pick-score'"),
    ({"steps": 2.5}, "steps must be a whole number"),
    ({"seeds": "3-1"}, "--seed must look like"),
    ({"method": "fast"}, "method must be one of"),
])
def test_form_errors_name_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        spec_from_form(**{**ZOO, **change})


def test_uploads_are_checked_and_copied_into_the_folder(tmp_path):
    good = tmp_path / "in.png"
    Image.new("RGB", (30, 20), (200, 10, 10)).save(good)
    copy = check_upload(good, tmp_path / "up", "reference image")
    assert copy.parent == tmp_path / "up" and copy.read_bytes() == good.read_bytes()
    bomb = tmp_path / "bomb.png"
    Image.new("1", (5000, 5000)).save(bomb)  # a few kB on disk, 25 M pixels decoded
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ValueError, match="decompression bomb"):
        check_upload(bomb, tmp_path / "up")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        check_upload(text, tmp_path / "up")
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (21 * 2**20))
    with pytest.raises(ValueError, match="over the 20 MB limit"):
        check_upload(big, tmp_path / "up")
    assert sorted(p.name for p in (tmp_path / "up").iterdir()) == [copy.name]  # refused files leave nothing


def test_runner_streams_each_step_then_the_record(tmp_path):
    runner = JobRunner(tmp_path)
    seen, final = [], None
    for final in runner.run(spec_from_form(**ZOO)):  # the same Progress object, updated in place
        seen.append((final.step, len(final.frames), final.done))
    assert [s for s, _, d in seen if not d] == [0, 1, 2, 3]  # one update per DOODL evaluation, live
    assert [n for _, n, d in seen if not d] == [1, 2, 3, 4]
    assert seen[-1][2] and final.record is not None and final.error is None
    assert final.record.out_dir.parent == tmp_path and (final.record.out_dir / "run.json").is_file()
    assert final.losses[0] == final.record.outputs[0].losses


def test_cancel_stops_the_run_and_a_second_job_is_refused(tmp_path):
    runner = JobRunner(tmp_path)
    it = runner.run(spec_from_form(**{**ZOO, "updates": 50}))
    first = next(it)
    assert runner.busy and first.step == 0
    with pytest.raises(Busy, match="already in progress"):
        next(runner.run(spec_from_form(**ZOO)))
    assert runner.cancel()
    last = list(it)[-1]
    assert last.cancelled and last.record is None and last.step < 50
    assert not runner.busy and not runner.cancel()
    done = list(runner.run(spec_from_form(**{**ZOO, "updates": 1})))[-1]  # the device is free again
    assert done.record is not None


def test_runner_reports_errors_as_one_line(tmp_path):
    runner = JobRunner(tmp_path)
    last = list(runner.run(spec_from_form(**{**ZOO, "model": str(tmp_path / "no-such-model")})))[-1]
    assert last.error and "\n" not in last.error and "no-such-model" in last.error
    assert threading.active_count() >= 1 and not runner.busy
