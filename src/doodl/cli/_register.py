"""Attach each subcommand module to the `doodl` group: one import and one add_command line per module."""

from __future__ import annotations

from . import cli  # noqa: F401
from .zoo import zoo  # noqa: E402
cli.add_command(zoo)
from .batch import batch  # noqa: E402
cli.add_command(batch)
from .lab import lab  # noqa: E402
cli.add_command(lab)
from .run_commands import COMMANDS as _RUN_COMMANDS  # noqa: E402
for _command in _RUN_COMMANDS:  # generate, personalize, edit, classify-guide
    cli.add_command(_command)
from .demo import bench, demo  # noqa: E402
cli.add_command(demo)
cli.add_command(bench)
from .serve import serve  # noqa: E402
cli.add_command(serve)
