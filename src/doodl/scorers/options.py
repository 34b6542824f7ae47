"""Typed access to a guide's key=value options (strings from the CLI, or Python values), with errors naming them."""

from __future__ import annotations

import math
from typing import Any, Mapping


class GuideOptions:
    """A guide's options: keys are matched with '_' read as '-', values converted on access, unknown keys reported."""

    def __init__(self, scorer: str, options: Mapping[str, Any], allowed: tuple[str, ...]):
        self.scorer = scorer
        self.values = {str(k).strip().replace("_", "-"): v for k, v in options.items()}
        unknown = sorted(set(self.values) - set(allowed))
        if unknown:
            valid = ", ".join(allowed) if allowed else "none"
            raise ValueError(f"--guide {scorer}: unknown option {unknown[0]!r}; valid options: {valid}")

    def _err(self, key: str, what: str, value: Any) -> ValueError:
        return ValueError(f"--guide {self.scorer}: option {key} must be {what}, got {value!r}")

    def has(self, key: str) -> bool:
        """Whether the option was given (and is not an empty string)."""
        v = self.values.get(key)
        return v is not None and not (isinstance(v, str) and not v.strip())

    def text(self, key: str, default: str | None = None) -> str | None:
        """The option as a stripped string, or default."""
        return str(self.values[key]).strip() if self.has(key) else default

    def number(self, key: str, default: float, low: float | None = None, open_low: bool = False) -> float:
        """A finite float (>= low, or > low with open_low), or default."""
        if not self.has(key):
            return default
        v = self.values[key]
        try:
            x = float(v) if not isinstance(v, bool) else float("nan")
        except (TypeError, ValueError):
            raise self._err(key, "a number", v) from None
        if not math.isfinite(x) or (low is not None and (x <= low if open_low else x < low)):
            bound = "" if low is None else f" {'>' if open_low else '>='} {low:g}"
            raise self._err(key, f"a finite number{bound}", v)
        return x

    def integer(self, key: str, default: int | None, low: int | None = None) -> int | None:
        """An integer (>= low), or default."""
        if not self.has(key):
            return default
        v = self.values[key]
        try:
            if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
                raise ValueError
            x = int(v) if not isinstance(v, str) else int(v.strip())
        except (TypeError, ValueError):
            raise self._err(key, "an integer" + (f" >= {low}" if low is not None else ""), v) from None
        if low is not None and x < low:
            raise self._err(key, f"an integer >= {low}", v)
        return x

    def items(self, key: str, default: list[str] | None = None) -> list[str] | None:
        """A list: a Python list/tuple, or a string split on ';' (empty parts dropped)."""
        if not self.has(key):
            return default
        v = self.values[key]
        parts = [str(p).strip() for p in (v if isinstance(v, (list, tuple)) else str(v).split(";"))]
        parts = [p for p in parts if p]
        if not parts:
            raise self._err(key, "a non-empty ';'-separated list", v)
        return parts

    def numbers(self, key: str, default: list[float] | None = None) -> list[float] | None:
        """A list of finite floats >= 0 (a ';'-separated string or a list), or default."""
        parts = self.items(key)
        if parts is None:
            return default
        out = []
        for p in parts:
            try:
                x = float(p)
            except ValueError:
                raise self._err(key, "';'-separated numbers >= 0", self.values[key]) from None
            if not math.isfinite(x) or x < 0:
                raise self._err(key, "';'-separated finite numbers >= 0", self.values[key])
            out.append(x)
        return out

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        """One of choices (case-insensitive), or default."""
        v = self.text(key)
        if v is None:
            return default
        if v.lower() not in choices:
            raise self._err(key, "one of " + ", ".join(choices), v)
        return v.lower()
