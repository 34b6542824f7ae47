"""Device names checked once, for the CLI and the API alike: 'cpu', 'cuda', 'cuda:N', 'mps' (and 'auto' where offered)."""

from __future__ import annotations

import torch

DEVICE_HELP = "cpu, cuda, cuda:N or mps"


def as_device(value: str | torch.device, option: str = "device", allow_auto: bool = False) -> torch.device:
    """A torch.device that exists on this machine; 'auto' (when allowed) is cuda if available, else cpu.

    Raises ValueError naming `option` for unknown names (torch's own error lists ~20 backends) and for a
    CUDA or MPS device this machine does not have.
    """
    if isinstance(value, torch.device):
        dev = value
    else:
        text = str(value).strip().lower()
        if allow_auto and text == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        valid = ("auto, " if allow_auto else "") + DEVICE_HELP
        try:  # any torch device type (meta included); unknown names get one line instead of torch's list
            dev = torch.device(text)
        except (RuntimeError, ValueError):
            raise ValueError(f"{option} must be {valid}, got {value!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{option} {value}: CUDA is not available on this machine; use cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{option} {value}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"{option} {value}: MPS is not available on this machine; use cpu")
    return dev
