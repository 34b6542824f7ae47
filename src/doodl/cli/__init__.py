"""The `doodl` command line: one subcommand per task."""

from __future__ import annotations

import sys

import click

from .errors import run_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="doodl")
def cli() -> None:
    """Steer pretrained diffusion models with any differentiable scorer (DOODL and baselines).

    \b
    Examples:
      doodl demo --out outputs/demo
      doodl zoo train --help
    """


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; user errors print one line and exit non-zero, never a traceback."""
    return run_cli(cli, argv if argv is not None else sys.argv[1:])


# Subcommands register themselves here (one module each).
from . import _register  # noqa: E402,F401
