"""Time cost of float64 coupling (doodl's default) against float32, the network in float32 either way.

Interleaves the two dtypes in one process and reports the median CPU seconds of this process (time.process_time:
less sensitive than wall time to other work on a shared machine) over `--repeats` runs of EDICT sampling
without grad and of one reversible gradient, per T. Run with OMP_NUM_THREADS=1 so CPU time is one core's.

    python benchmarks/coupling_cost.py            # pixel UNet 32-64-64, 4x3x32x32, T in {10, 25}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, pixel_unet  # noqa: E402

import doodl  # noqa: E402

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def cpu_seconds(fn) -> float:
    """CPU seconds this process spends in fn()."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", default="10,25")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "coupling_cost.json"))
    a = p.parse_args()
    unet = pixel_unet(a.size, 3, (32, 64, 64))
    model = lambda x, t: unet(x, t).sample  # noqa: E731
    ac = doodl.make_alphas_cumprod("linear")
    base = torch.randn(a.batch, 3, a.size, a.size, generator=torch.Generator().manual_seed(0))
    rows = []
    for T in (int(s) for s in a.steps.split(",")):
        ts = doodl.ddim_timesteps(T)
        times: dict[str, list[float]] = {f"{k}_{d}": [] for k in ("sample", "grad") for d in DTYPES}
        for _ in range(a.repeats):
            for name, dt in DTYPES.items():
                xT = base.to(dt)

                def sample():
                    doodl.edict_sample(model, xT, xT, ts, ac, grad="none", model_dtype=torch.float32)

                def grad():
                    x = xT.clone().requires_grad_(True)
                    x0, y0 = doodl.edict_sample(model, x, x, ts, ac, model_dtype=torch.float32)
                    torch.autograd.grad(x0.square().mean() + y0.square().mean(), x)

                times[f"sample_{name}"].append(cpu_seconds(sample))
                times[f"grad_{name}"].append(cpu_seconds(grad))
        med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
        rows.append({"T": T, **med})
    print(f"# coupling_cost on {machine()}: pixel UNet 32-64-64, {a.batch}x3x{a.size}x{a.size}, network fp32, "
          f"median CPU s of {a.repeats}")
    print(f"{'T':>3} {'sample f32 s':>12} {'sample f64 s':>12} {'ratio':>6} {'grad f32 s':>10} {'grad f64 s':>10} {'ratio':>6}")
    for r in rows:
        print(f"{r['T']:>3} {r['sample_float32']:12.3f} {r['sample_float64']:12.3f} "
              f"{r['sample_float64'] / r['sample_float32']:6.3f} {r['grad_float32']:10.3f} {r['grad_float64']:10.3f} "
              f"{r['grad_float64'] / r['grad_float32']:6.3f}")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"machine": machine(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
