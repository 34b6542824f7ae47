"""Strict JSON text for every file and stdout record doodl writes: NaN and infinity are an error, not `NaN`."""

from __future__ import annotations

import json
from typing import Any


def json_text(obj: Any, what: str, **kwargs: Any) -> str:
    """json.dumps(obj, allow_nan=False, **kwargs); a non-finite number is a ValueError naming `what`."""
    try:
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError as e:
        raise ValueError(f"{what}: cannot be written as JSON ({e}); a NaN or infinite value reached it") from None
