"""`doodl serve`: defaults (zoo model, loopback, port 7860), the warning off loopback, a clean error without gradio."""

from __future__ import annotations

import builtins

import pytest
from click.testing import CliRunner

from doodl.cli import cli


def test_serve_defaults_bind_loopback_with_the_zoo(monkeypatch):
    pytest.importorskip("gradio")
    import doodl.web.app as app

    calls = {}
    monkeypatch.setattr(app, "launch", lambda demo, host, port, block: calls.update(host=host, port=port, demo=demo))
    monkeypatch.setattr(app, "build_app", lambda runner, model, device: calls.update(model=model) or runner)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 0, result.output
    assert calls["host"] == "127.0.0.1" and calls["port"] == 7860 and calls["model"] == "fashion"
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "8000"])
    assert "anyone who can reach it" in result.output and calls["port"] == 8000


def test_serve_without_gradio_is_one_line(monkeypatch):
    real = builtins.__import__

    def no_gradio(name, *a, **k):
        if name == "gradio" or name.startswith("doodl.web.app") or (name == "web.app"):
            raise ImportError("No module named 'gradio'")
        return real(name, *a, **k)

    monkeypatch.delitem(__import__("sys").modules, "doodl.web.app", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_gradio)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2 and "pip install 'doodl[web]'" in result.output
