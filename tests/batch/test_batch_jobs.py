"""JOBS parsing: line-numbered errors, --skip-invalid, one job per seed, content ids, DrawBench expansion."""

from __future__ import annotations

import json

import pytest
from fake_executor import FakeExecutor

from doodl.batch import (
    PAPER_CATEGORIES,
    categories,
    drawbench_jobs,
    drawbench_prompts,
    expand_seeds,
    job_id,
    load_drawbench,
    parse_jobs,
    read_jobs,
    select_categories,
)


def lines(*objs) -> list[str]:
    return [o if isinstance(o, str) else json.dumps(o) for o in objs]


def test_malformed_line_names_its_number():
    text = lines({"prompt": "a"}, "", '{"prompt": "b",', {"prompt": "c"})
    with pytest.raises(ValueError, match=r"JOBS line 3: invalid JSON") as e:
        parse_jobs(text, FakeExecutor())
    assert "--skip-invalid" in str(e.value)


@pytest.mark.parametrize("bad, message", [
    ('["a list"]', "must be a JSON object"),
    ({"prompt": "x", "colour": 1}, "unknown key 'colour'"),
    ({"prompt": ""}, "prompt must be a non-empty string"),
    ({"prompt": "x", "seed": -1}, "seed"),
    ({"prompt": "x", "seed": 1, "seeds": [2]}, "either 'seed' or 'seeds'"),
    ({"prompt": "x", "category": 3}, "category must be a string"),
])
def test_invalid_lines_are_reported_with_their_number(bad, message):
    with pytest.raises(ValueError, match=rf"JOBS line 2: .*{message}"):
        parse_jobs(lines({"prompt": "ok"}, bad), FakeExecutor())


def test_skip_invalid_keeps_the_other_jobs():
    result = parse_jobs(lines({"prompt": "a"}, "{oops", {"prompt": "b", "bogus": 1}, {"prompt": "c"}), FakeExecutor(),
                        skip_invalid=True)
    assert [j.spec["prompt"] for j in result.jobs] == ["a", "c"]
    assert [j.line for j in result.jobs] == [1, 4]
    assert len(result.invalid) == 2 and result.invalid[0].startswith("JOBS line 2:") and "line 3:" in result.invalid[1]


def test_several_invalid_lines_are_counted_in_the_error():
    with pytest.raises(ValueError, match=r"line 1: .*\(2 more invalid line\(s\)\)"):
        parse_jobs(["{", "[]", "nope"], FakeExecutor())


def test_one_job_per_seed():
    assert [d["seeds"] for d in expand_seeds({"prompt": "x", "seeds": "0-2,5"})] == [[0], [1], [2], [5]]
    assert expand_seeds({"prompt": "x", "seed": 4}) == [{"prompt": "x", "seeds": [4]}]
    assert expand_seeds({"prompt": "x"}) == [{"prompt": "x", "seeds": [0]}]
    jobs = parse_jobs(lines({"prompt": "x", "seeds": [3, 1]}), FakeExecutor()).jobs
    assert [j.spec["seeds"] for j in jobs] == [[3], [1]] and len({j.id for j in jobs}) == 2


def test_ids_follow_content_not_layout():
    a = parse_jobs(['{"prompt": "x", "method": "vanilla", "seed": 1}'], FakeExecutor()).jobs[0]
    b = parse_jobs(['{"seed": 1,   "method": "vanilla", "prompt": "x", "category": "other"}'], FakeExecutor()).jobs[0]
    c = parse_jobs(['{"seed": 1, "method": "doodl", "prompt": "x"}'], FakeExecutor()).jobs[0]
    # a field the executor leaves out of the identity does not rename the job
    d = parse_jobs(['{"seed": 1, "method": "vanilla", "prompt": "x", "sleep": 3}'], FakeExecutor()).jobs[0]
    assert a.id == b.id == d.id != c.id
    assert len(a.id) == 16 and all(ch in "0123456789abcdef" for ch in a.id)
    assert job_id({"a": 1, "b": [1, 2]}) == job_id({"b": [1, 2], "a": 1}) != job_id({"a": 1, "b": [2, 1]})


def test_duplicate_jobs_are_kept_once():
    result = parse_jobs(lines({"prompt": "x", "seeds": "0-1"}, {"prompt": "x", "seed": 1}), FakeExecutor())
    assert len(result.jobs) == 2 and result.duplicates == 1


def test_read_jobs_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="JOBS file not found"):
        read_jobs(tmp_path / "nope.jsonl", FakeExecutor())
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"prompt": "a"}\n\n{"prompt": "b"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="jobs.jsonl line 3"):
        read_jobs(path, FakeExecutor())


def test_drawbench_data():
    rows = load_drawbench()
    assert len(rows) == 200 and not rows[0].prompt.startswith("\ufeff")
    counts = {c: sum(r.category == c for r in rows) for c in categories()}
    assert counts["DALL-E"] == 20 and counts["Reddit"] == 38 and len(counts) == 11 and sum(counts.values()) == 200
    assert select_categories("dall-e, REDDIT") == list(PAPER_CATEGORIES)
    assert select_categories("all") == categories()
    with pytest.raises(ValueError, match="unknown category 'Cats'"):
        select_categories("DALL-E,Cats")
    assert all(p.category == "Reddit" for p in drawbench_prompts(["Reddit"]))


def test_drawbench_expansion_is_prompts_x_seeds_x_methods():
    result = drawbench_jobs("DALL-E,Reddit", list(range(9)), ["doodl", "one_step", "vanilla"], {"model": "m"},
                            FakeExecutor())
    assert len(result.jobs) == (20 + 38) * 9 * 3 == len({j.id for j in result.jobs})
    assert {j.category for j in result.jobs} == {"DALL-E", "Reddit"}
    assert {j.spec["method"] for j in result.jobs} == {"doodl", "one_step", "vanilla"}
    with pytest.raises(ValueError, match="--method"):
        drawbench_jobs("DALL-E", [0], ["doodl", "dream"], {}, FakeExecutor())
    with pytest.raises(ValueError, match="must not set prompt"):
        drawbench_jobs("DALL-E", [0], ["doodl"], {"prompt": "x"}, FakeExecutor())


def test_replacing_an_input_file_at_the_same_path_renames_the_job(tmp_path):
    pytest.importorskip("doodl.runs")
    import torch

    from doodl.batch import RunExecutor
    from doodl.io import save_png

    photo = tmp_path / "photo.png"
    save_png(photo, torch.zeros(3, 8, 8))
    line = json.dumps({"task": "edit", "image": str(photo), "model": "fashion", "method": "vanilla"})
    (first,) = parse_jobs([line], RunExecutor()).jobs
    assert parse_jobs([line], RunExecutor()).jobs[0].id == first.id  # same content, same id
    save_png(photo, torch.ones(3, 8, 8))  # another picture under the same name
    (second,) = parse_jobs([line], RunExecutor()).jobs
    assert second.id != first.id
    assert second.spec == first.spec  # the spec itself still names the path; only the id sees the content


def test_invalid_utf8_names_the_file_and_line(tmp_path):
    path = tmp_path / "jobs.jsonl"
    path.write_bytes(b'{"prompt": "a"}\n{"prompt": "caf\xe9"}\n')
    with pytest.raises(ValueError, match=r"jobs.jsonl line 2: not UTF-8 text \(byte 0xe9 at column 16\)"):
        read_jobs(path, FakeExecutor())
    result = read_jobs(path, FakeExecutor(), skip_invalid=True)
    assert len(result.jobs) == 1 and result.invalid[0].startswith("jobs.jsonl line 2: not UTF-8")
