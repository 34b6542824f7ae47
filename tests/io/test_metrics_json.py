"""The metrics JSON policy: NaN / inf become null; anything else non-JSON is still an error naming the file."""

import json
import math

import pytest

from doodl.io.jsontext import metrics_json, nulls_for_nonfinite


def test_non_finite_metrics_become_null_and_the_text_is_strict_json():
    rec = {"fid": float("nan"), "acc": 0.5, "rows": [1.0, float("inf"), -float("inf")], "n": 3, "name": "x"}
    text = metrics_json(rec, "report.json")
    back = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict constant {c}"))
    assert back == {"fid": None, "acc": 0.5, "rows": [1.0, None, None], "n": 3, "name": "x"}
    assert math.isnan(rec["fid"])  # the input is not changed


def test_unserialisable_values_are_still_an_error_naming_the_file():
    with pytest.raises(TypeError):
        metrics_json({"x": object()}, "summary.json")
    assert nulls_for_nonfinite((1.0, float("nan"))) == [1.0, None]
