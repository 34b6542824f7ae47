"""doodl_step.py --arch runs on a shrunken SDXL / SD3 / Flux architecture (so the GPU command does not rot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


@pytest.mark.parametrize("arch", [pytest.param("sdxl", marks=pytest.mark.slow), "sd3",
                                  pytest.param("flux", marks=pytest.mark.slow)])  # sd3 by default: ~15 s
def test_doodl_step_arch_smoke(tmp_path, arch):
    out = tmp_path / "arch.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "doodl_step.py"), "--arch", arch, "--scale", "0.02",
                        "--size", "64", "--dtype", "float32", "--text-tokens", "8", "--device", "cpu", "--steps", "2",
                        "--opt-steps", "2", "--modes", "reversible", "--inprocess", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{arch} arch x0.02 at 64^2" in r.stdout
    row = json.loads(out.read_text())["rows"][0]
    assert row["T"] == 2 and row["reversible_seconds"] > 0 and row["edict_seconds"] > 0


def test_full_size_configs_are_the_public_ones():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from arch import scaled

    sdxl, _ = scaled("sdxl", 1.0)
    sd3, sd3_vae = scaled("sd3", 1.0)
    flux, _ = scaled("flux", 1.0)
    assert sdxl["cross_attention_dim"] == 2048 and sdxl["transformer_layers_per_block"] == (1, 2, 10)
    assert sd3["num_layers"] == 24 and sd3["num_attention_heads"] * sd3["attention_head_dim"] == 1536
    assert sd3_vae["latent_channels"] == 16
    assert (flux["num_layers"], flux["num_single_layers"], flux["num_attention_heads"]) == (19, 38, 24)
