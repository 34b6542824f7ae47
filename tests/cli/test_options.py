"""Seed ranges and guide specs of the CLI."""

from __future__ import annotations

import pytest

from doodl.cli.options import GuideSpec, parse_guide, parse_seeds


@pytest.mark.parametrize("text, seeds", [("0", [0]), ("0-3", [0, 1, 2, 3]), ("2-3,7,3", [2, 3, 7]), (" 5 ", [5])])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "3-1", "-1", "1,,2", "0-99999"])
def test_parse_seeds_errors(text):
    with pytest.raises(ValueError, match="seed"):
        parse_seeds(text)


def test_parse_guide():
    assert parse_guide("aesthetic") == GuideSpec("aesthetic", 1.0, {})
    assert parse_guide("clip-text:0.5,prompt=a red, round cube,crops=8") == GuideSpec(
        "clip-text", 0.5, {"prompt": "a red, round cube", "crops": "8"})
    for bad, match in [(":2", "scorer name"), ("x:abc", "weight must be a number"), ("x:-1", ">= 0"), ("x,foo", "key=value")]:
        with pytest.raises(ValueError, match=match):
            parse_guide(bad)


def test_method_choice_takes_both_spellings_and_shows_the_dashed_one():
    import click
    from click.testing import CliRunner

    from doodl.cli.options import MethodChoice

    @click.command()
    @click.option("--method", type=MethodChoice(["doodl", "one-step", "vanilla"]))
    def cmd(method):
        click.echo(method)

    runner = CliRunner()
    assert runner.invoke(cmd, ["--method", "one_step"]).output == "one-step\n"
    assert runner.invoke(cmd, ["--method", "one-step"]).output == "one-step\n"
    bad = runner.invoke(cmd, ["--method", "two_step"])
    assert bad.exit_code == 2 and "one-step" in bad.output and "one_step" not in bad.output
