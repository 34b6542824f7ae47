"""Turning exceptions into one clean line and a non-zero exit code at the CLI."""

from __future__ import annotations

import logging
import os

import click


class UserError(click.ClickException):
    """An error caused by the user's input: printed as one line, exit code 2."""

    exit_code = 2


def as_option_error(error: ValueError, options: dict[str, str]) -> ValueError:
    """A library ValueError whose message starts with a field name, re-worded to start with its CLI option."""
    field, _, rest = str(error).partition(" ")
    return ValueError(f"{options[field]} {rest}") if field in options else error


def run_cli(group: click.Group, argv: list[str]) -> int:
    """Run a click group; map known failures to one-line messages (set DOODL_DEBUG=1 for the traceback)."""
    try:
        group.main(args=argv, prog_name="doodl", standalone_mode=False)
        return 0
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except (ValueError, FileNotFoundError, KeyError, OSError) as e:
        if os.environ.get("DOODL_DEBUG"):
            raise
        # KeyError's str() wraps the message in quotes; other messages may end in a quoted value: keep it
        msg = (str(e)[1:-1] if isinstance(e, KeyError) and len(str(e)) > 1 else str(e)) or type(e).__name__
        click.echo(f"Error: {msg}", err=True)
        return 2
    except Exception as e:  # noqa: BLE001 -- last resort: never a traceback at the CLI
        if os.environ.get("DOODL_DEBUG"):
            raise
        if "out of memory" in str(e).lower():
            click.echo(
                "Error: out of memory. Try --dtype float16, fewer --crops, fewer seeds per batch, "
                "or fewer --steps; gradient mode 'reversible' keeps memory independent of the step count.",
                err=True,
            )
            return 3
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        click.echo(f"Error: {type(e).__name__}: {e} (set DOODL_DEBUG=1 for the traceback)", err=True)
        return 1
