"""Strict JSON text for every file and stdout record doodl writes: NaN and infinity are an error, not `NaN`."""

from __future__ import annotations

import json
import math
from typing import Any


def json_text(obj: Any, what: str, **kwargs: Any) -> str:
    """json.dumps(obj, allow_nan=False, **kwargs); a non-finite number is a ValueError naming `what`."""
    try:
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError as e:
        raise ValueError(f"{what}: cannot be written as JSON ({e}); a NaN or infinite value reached it") from None


def nulls_for_nonfinite(obj: Any) -> Any:
    """A copy with NaN and infinite floats as None: the policy for *metrics* (JSON null = not available, e.g. a
    FID of one image), which json_text then writes strictly; settings and results go through json_text as they are."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: nulls_for_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [nulls_for_nonfinite(v) for v in obj]
    return obj


def metrics_json(obj: Any, what: str, **kwargs: Any) -> str:
    """Strict JSON text of a metrics record: non-finite numbers become null (nulls_for_nonfinite)."""
    return json_text(nulls_for_nonfinite(obj), what, **kwargs)
