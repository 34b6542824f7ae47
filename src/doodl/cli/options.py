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


class MethodChoice(click.Choice):
    """click.Choice that also takes underscores for dashes (one_step as the API spells it, one-step as shown)."""

    def convert(self, value, param, ctx):  # type: ignore[override]
        """Map '_' to '-' and check against the choices."""
        return super().convert(value.replace("_", "-") if isinstance(value, str) else value, param, ctx)
