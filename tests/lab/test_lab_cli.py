"""`doodl lab`: a reduced fractal run end to end (table and figures), the 1-D run, and clear errors."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from doodl.cli import main
from doodl.lab.config import LabConfig, parse_scales

pytest.importorskip("faiss")


def test_reduced_fractal_run_writes_table_and_figures(tmp_path, capsys):
    out = tmp_path / "fractal"
    rc = main(["lab", "fractal", "--out", str(out), "--quick", "--cg-scales", "0,2", "--cfg-scales", "1,3", "--k", "5"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    table = json.loads((out / "table.json").read_text())
    assert set(table) == {"cfg", "cg"}
    assert set(table["cg"]) == {"0", "2"} and set(table["cfg"]) == {"1", "3"}
    for row in table.values():
        for cell in row.values():
            assert set(cell) == {"before", "after"}
            for tag in ("before", "after"):
                assert set(cell[tag]) == {"sw", "precision", "recall"}
                assert cell[tag]["sw"] >= 0 and all(0 <= cell[tag][m] <= 1 for m in ("precision", "recall"))
    for name in ("data", "trajectories_cg", "trajectories_cfg", "trajectories_doodl", "postprocess_cg", "postprocess_cfg"):
        with Image.open(out / f"{name}.png") as im:
            assert im.format == "PNG" and im.width > 200
    details = json.loads((out / "details.json").read_text())
    assert "doodl" in details and details["config"]["flow"]["k"] == 5
    assert details["config"]["flow_per"] == "scale"
    assert set(details["cg"]["_flow_final_loss"]) == {"0", "2"}  # one flow per scale
    chain = details["doodl"]["chain"]
    assert chain["mix"] == 0.8 and chain["pair_gap_mean"] is not None and chain["pair_gap_mean"] >= 0
    assert "CFG scale" in captured.out and "SW after" in captured.out and "recall before" in captured.out
    assert not list(out.glob(".*.tmp*"))  # no temporary files left behind


def test_one_flow_per_method_with_dopri5_and_flow_steps(tmp_path, capsys):
    out = tmp_path / "method"
    rc = main(["lab", "fractal", "--out", str(out), "--quick", "--cg-scales", "1,4", "--cfg-scales", "2",
               "--flow-per", "method", "--flow-steps", "30", "--solver", "dopri5", "--doodl-points", "0"])
    assert rc == 0, capsys.readouterr().err
    details = json.loads((out / "details.json").read_text())
    assert details["config"]["flow_per"] == "method" and details["config"]["flow"]["train"]["steps"] == 30
    assert set(details["cg"]["_flow_final_loss"]) == {"all"}
    assert "one flow per method" in capsys.readouterr().out


def test_per_scale_flows_with_dopri5(tmp_path):
    out = tmp_path / "scale"
    assert main(["lab", "gaussian1d", "--out", str(out), "--quick", "--cg-scales", "2,4", "--cfg-scales", "1",
                 "--solver", "dopri5", "--doodl-points", "0"]) == 0
    details = json.loads((out / "details.json").read_text())
    assert set(details["cg"]["_flow_final_loss"]) == {"2", "4"} and details["config"]["solver"] == "dopri5"
    for k in ("2", "4"):  # each scale was moved by its own flow
        assert details["cg"][k]["after"]["sw"] != details["cg"][k]["before"]["sw"]


def test_reduced_1d_run(tmp_path):
    out = tmp_path / "g1d"
    assert main(["lab", "gaussian1d", "--out", str(out), "--quick", "--cg-scales", "1", "--cfg-scales", "2",
                 "--doodl-points", "0"]) == 0
    assert json.loads((out / "table.json").read_text()).keys() == {"cfg", "cg"}
    assert (out / "trajectories_cond_vs_cg.png").is_file() and (out / "trajectories_cg_mlp.png").is_file()


@pytest.mark.parametrize("args,message", [
    (["--cg-scales", "1,-2"], "must be finite and >= 0"),
    (["--cfg-scales", "-1"], "must be finite and >= 0"),
    (["--cfg-scales", "two"], "'two' is not a number"),
    (["--cg-scales", "nan"], "must be finite"),
    (["--k", "100000"], "is larger than the real set"),
    (["--flow-per", "class"], "'class' is not one of"),
    (["--flow-steps", "0"], "0 is not in the range"),
])
def test_bad_input_is_one_clear_line(tmp_path, capsys, args, message):
    rc = main(["lab", "fractal", "--out", str(tmp_path / "o"), "--quick", *args])
    err = capsys.readouterr().err
    assert rc != 0
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o" / "table.json").exists()


def test_unknown_data_set_name(capsys):
    assert main(["lab", "moons", "--out", "x"]) != 0
    assert "No such command 'moons'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown data set 'moons'"):
        LabConfig(data="moons")  # type: ignore[arg-type]


def test_parse_scales():
    assert parse_scales("1, 2.5,2.5,0") == (1.0, 2.5, 0.0)
    for bad in ("", "1,,2", "-0.5", "inf", "x"):
        with pytest.raises(ValueError):
            parse_scales(bad)
