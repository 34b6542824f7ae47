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


def silence_third_party() -> None:
    """--quiet: transformers / diffusers / huggingface_hub logging to errors, their progress bars off, and Python
    warnings from packages other than doodl ignored."""
    import warnings

    warnings.filterwarnings("ignore", module=r"^(?!doodl(\.|$))")
    for name in ("transformers", "diffusers", "huggingface_hub", "torch"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:
        pass
    for module in ("transformers.utils.logging", "diffusers.utils.logging"):
        try:
            mod = __import__(module, fromlist=["set_verbosity_error"])
        except ImportError:
            continue
        mod.set_verbosity_error()
        mod.disable_progress_bar()
