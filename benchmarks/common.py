"""Helpers shared by the benchmark scripts: building models, timing, peak memory in a fresh subprocess."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any, Callable

import torch


def machine() -> str:
    """One line naming the machine the numbers come from."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads, torch {torch.__version__}"


def pixel_unet(size: int = 32, channels: int = 3, widths: tuple[int, ...] = (32, 64, 64), dtype=torch.float32):
    """A random diffusers UNet2DModel of a realistic small shape (speed does not depend on weight values)."""
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    n = len(widths)
    unet = UNet2DModel(
        sample_size=size, in_channels=channels, out_channels=channels, layers_per_block=1,
        block_out_channels=widths, norm_num_groups=8,
        down_block_types=("DownBlock2D",) * (n - 1) + ("AttnDownBlock2D",),
        up_block_types=("AttnUpBlock2D",) + ("UpBlock2D",) * (n - 1),
    )
    unet = unet if dtype == torch.float32 else unet.to(dtype)
    return unet.eval().requires_grad_(False)


def timed(fn: Callable[[], Any], repeats: int = 1, sync: Callable[[], None] = lambda: None) -> float:
    """Median wall seconds of fn over `repeats` runs (after the caller's warm-up)."""
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def maxrss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_isolated(script: str, args: list[str]) -> dict:
    """Run `script --worker ARGS` in a fresh interpreter and parse its last stdout line as JSON (clean peak RSS)."""
    out = subprocess.run([sys.executable, script, "--worker", *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"worker failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


