"""Round-trip error of BDIA (one call per step) vs EDICT (two) on a tiny random UNet, SD's schedule, CPU.

    python benchmarks/bdia_roundtrip.py [--steps 10,20,50]

Prints max |x_T' - x_T| after sample + invert, per sampler, coupling dtype and T (network in float64 / float32);
then the sample's distance to the ODE solution (DDIM with every timestep from the chain's first t) on an exact eps model for Gaussian data
(x0 ~ N(0, 0.4^2 I)), for DDIM, EDICT and BDIA at each T: how good a sampler each is, not only how exact.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import tiny_unet  # noqa: E402

import doodl  # noqa: E402
from doodl.samplers import make_steps  # noqa: E402
from doodl.samplers.bdia import bdia_invert, bdia_sample  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", default="10,20,50")
    a = p.parse_args()
    torch.set_num_threads(1)
    ac = doodl.make_alphas_cumprod("scaled_linear")
    print(f"{'sampler':>14} {'dtype':>8} {'T':>3} {'max |err|':>10}")
    for dtype in (torch.float64, torch.float32):
        unet = tiny_unet(dtype)
        model = lambda x, t: unet(x, t).sample  # noqa: E731
        xT = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(dtype)
        for T in (int(s) for s in a.steps.split(",")):
            steps = make_steps(doodl.ddim_timesteps(T), ac)
            x0, y0 = doodl.edict_sample(model, xT, xT.clone(), steps, grad="none")
            xr, _ = doodl.edict_invert(model, x0, y0, steps)
            rows = [("edict p=0.93", (xr - xT).abs().max().item())]
            for gamma in (0.0, 0.5):
                zp, z0 = bdia_sample(model, xT, steps, gamma)
                zr, _ = bdia_invert(model, zp, z0, steps, gamma)
                rows.append((f"bdia g={gamma}", (zr - xT).abs().max().item()))
            for name, err in rows:
                print(f"{name:>14} {str(dtype)[6:]:>8} {T:>3} {err:10.2e}")

    exact = lambda x, t: (1 - ac[int(t)]).sqrt() * x / (ac[int(t)] * 0.16 + 1 - ac[int(t)])  # noqa: E731
    xT = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    print(f"\n{'sampler':>14} {'T':>3} {'max |x0 - ode|':>15}   (exact Gaussian eps, float64)")
    for T in (int(s) for s in a.steps.split(",")):
        steps = make_steps(doodl.ddim_timesteps(T), ac)
        ref = doodl.ddim_sample(exact, xT, make_steps(list(range(steps[0].t, -1, -1)), ac))  # same start t
        rows = [("ddim", doodl.ddim_sample(exact, xT, steps)),
                ("edict p=0.93", doodl.edict_sample(exact, xT, xT.clone(), steps, grad="none")[0])]
        rows += [(f"bdia g={g}", bdia_sample(exact, xT, steps, g)[1]) for g in (0.0, 0.5)]
        for name, x0 in rows:
            print(f"{name:>14} {T:>3} {(x0 - ref).abs().max().item():15.2e}")


if __name__ == "__main__":
    main()
