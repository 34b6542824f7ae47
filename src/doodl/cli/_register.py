"""Attach each subcommand module to the `doodl` group: one import and one add_command line per module."""

from __future__ import annotations

from . import cli  # noqa: F401
from .batch import batch  # noqa: E402
cli.add_command(batch)
