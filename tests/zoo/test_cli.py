"""`doodl zoo ...` in-process (and once as `python -m doodl.cli` from the source tree)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import synthetic_data
from doodl.cli import main
from doodl.io import read_png_metadata

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the CLI run in-process."""
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_help_has_examples(capsys):
    for argv in (["zoo", "--help"], ["zoo", "train", "--help"], ["zoo", "sample", "--help"], ["zoo", "eval", "--help"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and "Examples:" in out and "doodl zoo" in out
    _, out, _ = run(capsys, "zoo", "train", "--help")
    for opt in ("--model", "--steps", "--batch-size", "--device", "--seed", "--out-dir", "--max-minutes", "--amp"):
        assert opt in out


def test_list_shows_presence_sizes_and_accuracy(capsys, tiny_zoo, tmp_path):
    code, out, _ = run(capsys, "zoo", "list", "--weights-dir", tiny_zoo["dir"])
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[2:6]}
    assert set(rows) == {"fashion-guide", "fashion-eval", "fashion-ddpm", "fashion-cond-ddpm"}
    assert all(" yes " in r for r in rows.values())
    assert f"{tiny_zoo['fashion-guide'].test_accuracy:.4f}" in rows["fashion-guide"]
    code, out, _ = run(capsys, "zoo", "list", "--weights-dir", tmp_path)
    assert code == 0 and out.count(" no ") == 5 and "total 0.00 MB" in out


def test_sample_writes_a_grid_with_metadata(capsys, tiny_zoo, tmp_path):
    out_png = tmp_path / "grid.png"
    code, out, err = run(capsys, "zoo", "sample", "fashion-cond", "--seeds", "0-1", "--steps", "2", "--class", "sneaker",
                         "--guidance-scale", "2", "--scale", "1", "--out", out_png, "--weights-dir", tiny_zoo["dir"])
    assert code == 0, err
    meta = read_png_metadata(out_png)
    assert meta["class"] == "Sneaker" and meta["seeds"] == [0, 1] and meta["guidance_scale"] == 2.0
    from PIL import Image

    with Image.open(out_png) as im:
        assert im.size == (2 * 30 + 2, 30 + 2)  # two 28-pixel images, 2-pixel padding, one row


def test_sample_user_errors_are_one_line(capsys, tiny_zoo, tmp_path):
    cases = [
        (["fashion", "--class", "3"], "conditional model"),
        (["fashion-cond", "--class", "hat"], "unknown Fashion-MNIST class"),
        (["fashion", "--weights-dir", tmp_path], "fashion-ddpm.safetensors"),
    ]
    for extra, needle in cases:
        args = ["zoo", "sample", *extra, "--steps", "1", "--seeds", "0", "--out", tmp_path / "x.png"]
        if "--weights-dir" not in extra:
            args += ["--weights-dir", tiny_zoo["dir"]]
        code, _, err = run(capsys, *args)
        assert code == 2 and needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.png").exists()


def test_train_passes_options_and_offsets_seeds(capsys, tmp_path, monkeypatch):
    import doodl.zoo as zoo
    from doodl.zoo import TrainResult

    seen = []

    def fake(cfg, data=None, *, out_dir=None, command=None, **_):
        seen.append((cfg, out_dir, command))
        return TrainResult(cfg.name, Path(out_dir) / "w", Path(out_dir) / "c", cfg.steps, 0.5, 1.0, False)

    monkeypatch.setattr(zoo, "train_ddpm", fake)
    monkeypatch.setattr(zoo, "train_classifier", fake)
    code, out, err = run(capsys, "zoo", "train", "--model", "all", "--steps", "7", "--seed", "10", "--out-dir", tmp_path,
                         "--sample-eval", "5", "--limit", "100")
    assert code == 0, err
    cfgs = {c.name: c for c, _, _ in seen}
    assert [c.name for c, _, _ in seen] == ["fashion-guide", "fashion-eval", "fashion-ddpm", "fashion-cond-ddpm",
                                           "fashion-super-ddpm"]
    assert {n: c.seed for n, c in cfgs.items()} == {"fashion-guide": 10, "fashion-eval": 11, "fashion-ddpm": 10,
                                                    "fashion-cond-ddpm": 12, "fashion-super-ddpm": 13}
    assert all(c.steps == 7 and c.train_limit == 100 for c in cfgs.values())
    assert cfgs["fashion-ddpm"].sample_eval == 5 and cfgs["fashion-cond-ddpm"].conditional
    assert seen[0][2].startswith("doodl zoo train --model all --steps 7") and "--seed 10" in seen[0][2]
    assert out.count("final loss 0.5000") == 5


def test_train_bad_out_dir_is_one_line(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "zoo", "train", "--model", "fashion-guide", "--out-dir", blocker / "sub")
    assert code == 2 and "--out-dir" in err and "Traceback" not in err


def test_cards_regenerates_readme(capsys, tiny_zoo):
    readme = tiny_zoo["dir"] / "README.md"
    readme.write_text("stale")
    code, out, _ = run(capsys, "zoo", "cards", "--weights-dir", tiny_zoo["dir"])
    assert code == 0 and "README.md" in out
    text = readme.read_text()
    assert "| fashion-guide |" in text and "python -m doodl.cli zoo train" in text


def test_eval_on_real_test_split(capsys, tiny_zoo):
    from doodl.data import find_root

    try:
        find_root()
    except FileNotFoundError as e:
        pytest.skip(f"Fashion-MNIST not installed ({str(e)[:80]}...)")
    code, out, err = run(capsys, "zoo", "eval", "--limit", "50", "--weights-dir", tiny_zoo["dir"])
    assert code == 0, err
    assert "fashion-guide: test accuracy" in out and "on 50 images" in out and "fashion-eval" in out


def test_python_dash_m_from_source_tree():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "doodl.cli", "zoo", "train", "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--max-minutes" in proc.stdout



def test_eval_ddpm_samples_writes_card(capsys, tiny_zoo, tmp_path, monkeypatch):
    import shutil

    from doodl.zoo import read_card

    folder = tmp_path / "zoo"
    shutil.copytree(tiny_zoo["dir"], folder)
    images, labels = synthetic_data(30, seed=2)
    monkeypatch.setattr("doodl.data.load_fashion_mnist", lambda split, root=None: (images, labels))
    card = read_card("fashion-ddpm", folder)
    card.extra["samples_error"] = "an earlier failure"
    from doodl.zoo.cards import write_card

    write_card(card, folder)
    code, out, err = run(capsys, "zoo", "eval", "--model", "fashion-ddpm", "--samples", "6", "--steps", "2",
                         "--write-card", "--weights-dir", folder)
    assert code == 0, err
    assert "fashion-ddpm: fmnist_fid" in out
    extra = read_card("fashion-ddpm", folder).extra
    assert "samples_error" not in extra and extra["samples"]["n"] == 6 and extra["samples"]["fmnist_fid"] > 0
    assert "--samples 6 --steps 2" in extra["samples_how"] and "fmnist_fid" in (folder / "README.md").read_text()
    # bad input: more samples than test images; --write-card with classifiers only
    code, _, err = run(capsys, "zoo", "eval", "--model", "fashion-ddpm", "--samples", "31", "--weights-dir", folder)
    assert code == 2 and "--samples" in err and "30" in err
    code, _, err = run(capsys, "zoo", "eval", "--model", "fashion-guide", "--write-card", "--weights-dir", folder)
    assert code == 2 and "--write-card" in err


def test_sample_checks_its_out_path_before_sampling(capsys, tiny_zoo, tmp_path, monkeypatch):
    from doodl.zoo import samples

    monkeypatch.setattr(samples, "sample_grid", lambda *a, **k: pytest.fail("sampled before checking --out"))
    (tmp_path / "afile").write_text("x")
    code, _, err = run(capsys, "zoo", "sample", "fashion", "--seed", "0", "--steps", "1", "--out",
                       tmp_path / "afile" / "z.png", "--weights-dir", tiny_zoo["dir"])
    assert code == 2 and "--out" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_cards_and_train_do_not_write_into_the_package_by_default(capsys, tiny_zoo, tmp_path, monkeypatch):
    from doodl.zoo.registry import ENV_VAR, PACKAGE_DIR

    monkeypatch.delenv(ENV_VAR, raising=False)
    readme = PACKAGE_DIR / "README.md"
    before = readme.read_bytes() if readme.exists() else None
    code, _, err = run(capsys, "zoo", "cards")
    assert code == 2 and "--out" in err and "--into-package" in err
    code, _, err = run(capsys, "zoo", "train", "--model", "fashion-guide", "--steps", "1")
    assert code == 2 and "--out-dir" in err and "--into-package" in err
    assert (readme.read_bytes() if readme.exists() else None) == before
    # an --out file or folder gets the README rendered from the package's cards
    code, out, _ = run(capsys, "zoo", "cards", "--out", tmp_path / "zoo.md")
    assert code == 0 and (tmp_path / "zoo.md").read_text().startswith("# doodl model zoo")
    code, out, _ = run(capsys, "zoo", "cards", "--weights-dir", tiny_zoo["dir"], "--out", tmp_path / "d")
    assert code == 0 and "| fashion-guide |" in (tmp_path / "d" / "README.md").read_text()
