"""The point lab's small parts: which scales each flow trains on, how many samples it gets, the printed table."""

from __future__ import annotations

import pytest

from doodl.lab.config import LabConfig
from doodl.lab.experiment import flow_groups, flow_samples_per_scale, format_table


def test_flow_groups_per_scale_and_per_method():
    assert flow_groups((1.0, 2.0, 4.0), "scale") == [(1.0,), (2.0,), (4.0,)]
    assert flow_groups((1.0, 2.0, 4.0), "method") == [(1.0, 2.0, 4.0)]
    with pytest.raises(ValueError, match="flow_per must be 'scale' or 'method'"):
        flow_groups((1.0,), "class")


def test_one_for_all_flow_sees_as_much_data_as_a_per_scale_flow():
    assert flow_samples_per_scale(1000, (2.0,)) == 1000
    assert flow_samples_per_scale(1000, (1.0, 2.0, 3.0, 5.0)) == 250
    assert flow_samples_per_scale(1000, (1.0, 2.0, 4.0)) == 334  # rounded up: never less data than per scale


def test_format_table_nested_and_flat_cells():
    nested = {"cg": {"2": {"before": {"sw": 1.5, "precision": 0.25, "recall": 0.5},
                           "after": {"sw": 1.25, "precision": 0.75, "recall": 0.625}}}}
    text = format_table(nested, "heading")
    lines = text.splitlines()
    assert lines[0] == "heading" and "CG scale" in lines[1]
    assert [ln.split()[-1] for ln in lines[2:]] == ["1.5000", "1.2500", "0.2500", "0.7500", "0.5000", "0.6250"]
    assert lines[3].split()[:2] == ["SW", "after"] and lines[6].split()[:2] == ["recall", "before"]
    flat = format_table({"cfg": {"1": {"before": 5.88, "after": 8.14}}}, "FMNIST-FID")
    assert flat.splitlines()[2].split() == ["before", "5.8800"] and flat.splitlines()[3].split() == ["after", "8.1400"]


def test_config_checks_the_new_fields():
    with pytest.raises(ValueError, match="flow_per must be"):
        LabConfig(flow_per="class")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pr_k \\(3\\) must be smaller than doodl_points \\(2\\)"):
        LabConfig(doodl_points=2)
    with pytest.raises(ValueError, match="pr_k must be a positive int"):
        LabConfig(pr_k=0)
    assert LabConfig().flow_per == "scale" and LabConfig(doodl_points=0).doodl_points == 0
