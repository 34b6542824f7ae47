"""The CLI's click types for compound options; the parsing itself lives in doodl.specs (shared with runs/ and batch/)."""

from __future__ import annotations

import click

from ..specs import MAX_SEEDS, GuideSpec, parse_guide, parse_seeds  # noqa: F401 (re-exported for the CLI)


class SeedRange(click.ParamType):
    """click type for seed lists."""

    name = "SEEDS"

    def convert(self, value, param, ctx):  # type: ignore[override]
        """Parse a seed range for click, failing with click's usage error."""
        if isinstance(value, list):
            return value
        try:
            return parse_seeds(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)
