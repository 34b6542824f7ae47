"""Attach each subcommand module to the `doodl` group (kept in one list so the order of --help is stable)."""

from __future__ import annotations

from . import cli

# Each entry: (module under doodl.cli, attribute holding the click command or group).
for _mod, _attr in []:
    pass
