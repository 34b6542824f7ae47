"""`doodl batch` in-process: line-numbered errors, --skip-invalid, DrawBench, summary files, one real tiny job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from doodl.cli import main

FAKE = ["--executor", "fake_executor:FakeExecutor", "--quiet"]


def write(path: Path, *objs) -> Path:
    path.write_text("\n".join(o if isinstance(o, str) else json.dumps(o) for o in objs) + "\n", encoding="utf-8")
    return path


def test_a_malformed_line_is_an_error_naming_it(tmp_path, capsys):
    jobs = write(tmp_path / "jobs.jsonl", {"prompt": "a"}, '{"prompt": "b"', {"prompt": "c"})
    assert main(["batch", str(jobs), "--out", str(tmp_path / "out"), *FAKE]) == 2
    err = capsys.readouterr().err
    assert "jobs.jsonl line 2: invalid JSON" in err and "--skip-invalid" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "out").glob("manifest*"))


def test_skip_invalid_runs_the_others_and_writes_the_summary(tmp_path, capsys):
    jobs = write(tmp_path / "jobs.jsonl", {"prompt": "a", "seeds": "0-1", "category": "cats"}, "{oops",
                 {"prompt": "b", "method": "vanilla", "category": "cats"}, {"prompt": "c", "fail": "boom"})
    out = tmp_path / "out"
    assert main(["batch", str(jobs), "--out", str(out), "--skip-invalid", *FAKE]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1] == "done 3, skipped 0, failed 1, invalid 1"
    assert "skipped jobs.jsonl line 2: invalid JSON" in captured.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"] == {"jobs": 4, "done": 3, "failed": 1, "pending": 0}
    groups = {(g["category"], g["method"]): g for g in summary["groups"]}
    assert groups[("cats", "doodl")]["done"] == 2 and groups[("cats", "doodl")]["loss"] == pytest.approx(0.5)
    assert groups[("", "doodl")]["failed"] == 1
    assert [j["error"] for j in summary["jobs"] if j["status"] == "failed"] == ["ValueError: boom"]
    assert "| cats | vanilla | 1 | 1 | 0 |" in (out / "summary.md").read_text()
    assert main(["batch", str(jobs), "--out", str(out), "--skip-invalid", *FAKE]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "done 0, skipped 3, failed 1, invalid 1"


@pytest.mark.parametrize("args, message", [
    ([], "either a JOBS file or --drawbench"),
    (["JOBS", "--drawbench", "DALL-E"], "not both"),
    (["--drawbench", "DALL-E"], "--drawbench needs --model"),
    (["--drawbench", "Cats", "--model", "m"], "unknown category 'Cats'"),
    (["--drawbench", "DALL-E", "--model", "m", "--methods", "doodl,magic"], "--method"),
    (["--drawbench", "DALL-E", "--model", "m", "--set", "steps"], "--set must look like KEY=VALUE"),
    (["JOBS", "--model", "m"], "apply to --drawbench"),
    (["missing.jsonl"], "JOBS file not found"),
])
def test_usage_errors_are_one_clean_line(tmp_path, capsys, args, message):
    jobs = write(tmp_path / "jobs.jsonl", {"prompt": "a"})
    args = [str(jobs) if a == "JOBS" else str(tmp_path / a) if a.endswith(".jsonl") else a for a in args]
    assert main(["batch", *args, "--out", str(tmp_path / "out"), *FAKE]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_executor_is_a_clean_error(tmp_path, capsys):
    jobs = write(tmp_path / "jobs.jsonl", {"prompt": "a"})
    assert main(["batch", str(jobs), "--out", str(tmp_path / "o"), "--executor", "nope_module:X", "--quiet"]) == 2
    assert "--executor 'nope_module:X' cannot be loaded" in capsys.readouterr().err


def test_drawbench_selection_runs_prompt_x_seed_x_method(tmp_path, capsys):
    args = ["batch", "--drawbench", "rare words", "--seeds", "0-1", "--methods", "vanilla,doodl", "--model", "m",
            "--out", str(tmp_path / "out"), *FAKE]
    assert main(args) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "done 28, skipped 0, failed 0"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {(g["category"], g["method"], g["done"]) for g in summary["groups"]} == {
        ("Rare Words", "vanilla", 14), ("Rare Words", "doodl", 14)}


def test_one_real_job_through_execute_with_tiny_sd_and_tiny_clip(tmp_path, capsys):
    """End to end with doodl.runs.execute: tiny random SD (a vanilla job, kept cheap: DOODL itself is tested in
    tests/optimizer), a brightness guide for the final loss, and a missing model that fails."""
    pytest.importorskip("doodl.runs")
    from doodl.testing.clip import save_tiny_clip
    from doodl.testing.sd import save_tiny_sd

    sd, clip = save_tiny_sd(tmp_path / "sd"), save_tiny_clip(tmp_path / "clip")
    common = {"model": str(sd), "steps": 2, "guides": ["brightness"], "crops": 0, "device": "cpu", "category": "t"}
    jobs = write(tmp_path / "jobs.jsonl", {**common, "prompt": "a red cube", "method": "vanilla", "seed": 3},
                 {**common, "prompt": "x", "model": str(tmp_path / "no-such-model")})
    out = tmp_path / "out"
    assert main(["batch", str(jobs), "--out", str(out), "--clip-model", str(clip), "--quiet"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "done 1, skipped 0, failed 1"
    summary = json.loads((out / "summary.json").read_text())
    done = [j for j in summary["jobs"] if j["status"] == "done"]
    assert len(done) == 1 and done[0]["seed"] == 3 and done[0]["loss"] is not None
    assert done[0]["clip_score"] is not None and 0 <= done[0]["clip_score"] <= 100
    assert all((out / j["path"] / f"seed-{j['seed']}.png").is_file() for j in done)
    assert all((out / j["path"] / "run.json").is_file() and (out / j["path"] / "job.json").is_file() for j in done)
    failed = next(j for j in summary["jobs"] if j["status"] == "failed")
    assert "no-such-model" in failed["error"]


def test_zoo_class_target_jobs_get_target_accuracy_and_fmnist_fid(tmp_path, capsys):
    """With the zoo's weights (skipped until `doodl zoo train --model all` has made them) and Fashion-MNIST."""
    pytest.importorskip("doodl.runs")
    from doodl.zoo import weights_path

    missing = [n for n in ("fashion-ddpm", "fashion-guide", "fashion-eval") if not weights_path(n).is_file()]
    if missing:
        pytest.skip(f"zoo weights not trained yet: {', '.join(missing)}")
    try:
        from doodl.data import load_fashion_mnist

        load_fashion_mnist("test")
    except (FileNotFoundError, ValueError) as e:
        pytest.skip(f"Fashion-MNIST test split not available: {e}")
    job = {"model": "fashion", "task": "classify-guide", "classifier": "fashion-guide", "class": "sneaker",
           "method": "one_step", "steps": 2, "seeds": "0-1", "device": "cpu", "category": "sneaker"}
    jobs = write(tmp_path / "jobs.jsonl", job)
    assert main(["batch", str(jobs), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "done 2, skipped 0, failed 0"
    (group,) = json.loads((tmp_path / "out" / "summary.json").read_text())["groups"]
    assert 0 <= group["target_accuracy"] <= 1 and group["fmnist_fid"] >= 0
    assert group["target_accuracy"] in (0.0, 0.5, 1.0)  # two images


def test_seed_and_method_spellings_match_the_task_commands(tmp_path, capsys):
    """--seed 0-1 (as in `doodl generate`) and --method one-step both work; --seeds / --methods / one_step too."""
    outs = []
    for seed_opt, method_opt, methods in (("--seed", "--method", "one-step,vanilla"),
                                          ("--seeds", "--methods", "one_step,vanilla")):
        out = tmp_path / seed_opt.strip("-")
        args = ["batch", "--drawbench", "rare words", seed_opt, "0-1", method_opt, methods, "--model", "m",
                "--out", str(out), *FAKE]
        assert main(args) == 0
        assert capsys.readouterr().out.strip().splitlines()[-1] == "done 28, skipped 0, failed 0"
        summary = json.loads((out / "summary.json").read_text())
        outs.append(sorted(j["id"] for j in summary["jobs"]))
        assert {g["method"] for g in summary["groups"]} == {"one_step", "vanilla"}
    assert outs[0] == outs[1]  # the same jobs whichever spelling
