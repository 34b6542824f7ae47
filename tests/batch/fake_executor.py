"""A fast stand-in executor for the batch machinery's tests: writes one small PNG per job, no diffusion model.

Importable by subprocesses as `fake_executor:FakeExecutor` with tests/batch on PYTHONPATH. Job keys: prompt,
method, seeds (from the batch), and for tests: sleep (seconds), fail (an error message), loss, fail_if_exists
(a path: fail while that file exists, to test retries).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping

import torch

from doodl.batch import JobOutput
from doodl.io import save_png

KEYS = {"prompt", "method", "seeds", "sleep", "fail", "loss", "fail_if_exists", "model", "class_index", "guides"}


class FakeExecutor:
    """normalize checks keys and types like a real spec would; run writes seed-<s>.png from a seeded generator."""

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(spec) - KEYS)
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r}")
        if not isinstance(spec.get("prompt"), str) or not spec["prompt"].strip():
            raise ValueError("prompt must be a non-empty string")
        out = {"method": "doodl", "sleep": 0.0, **spec}
        out["sleep"] = float(out["sleep"]) + float(os.environ.get("FAKE_EXECUTOR_SLEEP", "0"))
        return out

    def identity(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in spec.items() if k != "sleep"}

    def run(self, spec: Mapping[str, Any], out_dir: Path) -> JobOutput:
        if spec.get("fail"):
            raise ValueError(spec["fail"])
        if spec.get("fail_if_exists") and Path(spec["fail_if_exists"]).exists():
            raise RuntimeError("flag file present")
        seed = int(spec["seeds"][0])
        gen = torch.Generator().manual_seed(seed)
        # half the work before the image, half after: a kill lands inside a job, not between jobs
        time.sleep(spec["sleep"] / 2)
        save_png(Path(out_dir) / f"seed-{seed}.png", torch.rand(3, 16, 16, generator=gen), {"prompt": spec["prompt"]})
        time.sleep(spec["sleep"] / 2)
        return JobOutput({"loss": float(spec.get("loss", seed))})
