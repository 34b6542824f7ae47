"""A doodl page served in-process on a free loopback port (module scope), for the API and browser tests."""

from __future__ import annotations

import os
import socket

import pytest

for _k, _v in (("GRADIO_ANALYTICS_ENABLED", "False"), ("HF_HUB_DISABLE_TELEMETRY", "1"), ("DO_NOT_TRACK", "1")):
    os.environ.setdefault(_k, _v)  # before any test imports gradio: no phoning home


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(url, runner) of the page on the zoo, CPU, files under a temporary folder."""
    pytest.importorskip("gradio", reason="the web extra is not installed (pip install 'doodl[web]')")
    tmp = tmp_path_factory.mktemp("web")
    old = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(tmp / "gradio")
    from doodl.web.app import build_app, launch
    from doodl.web.jobs import JobRunner

    runner = JobRunner(tmp / "doodl")
    demo = build_app(runner, device="cpu")
    port = _free_port()
    launch(demo, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/", runner
    demo.close()
    if old is None:
        os.environ.pop("GRADIO_TEMP_DIR", None)
    else:
        os.environ["GRADIO_TEMP_DIR"] = old
