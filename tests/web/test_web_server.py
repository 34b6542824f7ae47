"""The served page: API through gradio_client (loopback), and a real headless Chromium driving the page."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from doodl.io import read_png_metadata

CHROMIUM = "/usr/bin/chromium"
ZOO_GUIDE = "classifier:1,classifier=fashion-guide,class=7"

RUN_ARGS = ("generate", "fashion", "", ZOO_GUIDE, "DOODL", "0", 3, 2, None, None, None, "fashion-guide", 7)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_api_run_streams_and_returns_the_cli_files(server, tmp_path):
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    url, runner = server
    assert url.startswith("http://127.0.0.1:")
    client = Client(url, verbose=False, download_files=str(tmp_path))
    outputs = list(client.submit(*RUN_ARGS, api_name="/run"))
    assert any("Running" in o[0] for o in outputs[:-1]) and outputs[-1][0].startswith("**Done**")
    names = sorted(Path(f).name for f in outputs[-1][4])
    assert names == ["iterates-0.gif", "iterates-0.png", "latents-0.pt", "loss.png", "run.json", "seed-0.png"]
    png = next(Path(f) for f in outputs[-1][4] if f.endswith("seed-0.png"))
    meta = read_png_metadata(png)
    assert meta["seed"] == 0 and meta["model"] == "fashion" and meta["options"]["opt_steps"] == 2
    record = json.loads(next(Path(f) for f in outputs[-1][4] if f.endswith("run.json")).read_text())
    assert record["spec"]["guides"][0]["options"]["classifier"] == "fashion-guide"
    held = outputs[-1][5]
    assert held == record["heldout"] and "fashion-eval (class 7)" in held["judges"]
    assert set(held["seeds"]["0"]["fashion-eval (class 7)"]) == {"before", "after"}
    assert str(runner.root) in record["out_dir"]  # results stay in the server's temporary folder
    bad = list(client.submit(*(RUN_ARGS[:3] + ("pick-score",) + RUN_ARGS[4:]), api_name="/run"))
    assert "unknown guide 'pick-score'" in bad[-1][0]
    assert client.predict(api_name="/cancel") == "No run in progress."


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} missing (apt-get install chromium chromium-driver)")
def test_browser_live_iterates_cancel_and_download(server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python package) is not installed")
    url, _ = server
    with sync_api.sync_playwright() as pw:
        # a fresh profile (playwright passes it as --user-data-dir); no browser download: Debian's chromium
        browser = pw.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                        args=CHROMIUM_FLAGS, headless=True, accept_downloads=True)
        page = browser.new_page()
        outside = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((url, "data:", "blob:")) else None)
        page.goto(url)
        page.locator("#status").wait_for()
        assert "doodl" in page.title()

        def set_number(elem: str, value: int) -> None:
            box = page.locator(f"#{elem} input")
            box.fill(str(value))
            box.press("Tab")

        set_number("steps", 3)
        set_number("updates", 40)  # long enough to cancel
        page.click("#run")
        page.wait_for_function("document.querySelectorAll('#iterates img').length >= 2", timeout=60_000)
        assert "Running" in page.inner_text("#status")  # two iterates shown while the run is still going
        page.click("#cancel")
        page.wait_for_function("document.querySelector('#status').innerText.includes('Cancelled')", timeout=60_000)

        set_number("updates", 2)
        page.click("#run")
        page.wait_for_function("document.querySelector('#status').innerText.includes('Done')", timeout=60_000)
        link = page.locator("#files a[download='seed-0.png']").first
        with page.expect_download() as info:
            link.click()
        target = tmp_path / "seed-0.png"
        info.value.save_as(target)
        meta = read_png_metadata(target)
        assert meta["seed"] == 0 and meta["options"]["opt_steps"] == 2 and meta["method"] == "doodl"
        if os.environ.get("DOODL_SCREENSHOT"):
            page.screenshot(path=os.environ["DOODL_SCREENSHOT"], full_page=True)
        browser.close()
    assert outside == []  # the page loads nothing from outside the server (no fonts, no analytics)
