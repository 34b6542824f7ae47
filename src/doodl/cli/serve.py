"""`doodl serve`: the local web page (needs the doodl[web] extra: gradio)."""

from __future__ import annotations

import ipaddress

import click

from .errors import UserError


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@click.command()
@click.option("--model", default="fashion", show_default=True, metavar="ID_OR_FOLDER",
              help="Model preselected on the page: zoo name (runs with no downloads), hub id or folder.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; loopback keeps the page private.")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
def serve(model: str, host: str, port: int, device: str) -> None:
    """Serve a web page for the four applications with a live view of DOODL's iterates and loss."""
    try:
        from ..web.app import build_app, launch, temp_root
        from ..web.jobs import JobRunner
    except ImportError as e:
        raise UserError(f"doodl serve needs gradio: pip install 'doodl[web]' ({e})") from None
    if not _is_loopback(host):
        click.echo(f"warning: serving on {host}: anyone who can reach it can run jobs on this machine", err=True)
    demo = build_app(JobRunner(temp_root()), model=model, device=device)
    click.echo(f"doodl page on http://{host}:{port} (Ctrl+C to stop)", err=True)
    launch(demo, host, port, block=True)
