"""The CLI's log handler: the library's progress lines on stderr with a time stamp, installed once."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: int = logging.INFO) -> None:
    """Attach one stderr handler to the 'doodl' logger (once) and set its level."""
    log = logging.getLogger("doodl")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
    log.setLevel(level)
