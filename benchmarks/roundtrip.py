"""EDICT inversion round-trip error per precision: coupling dtype x network dtype, for several T.

edict_invert(edict_sample(x_T)) should return x_T. In exact arithmetic it does for any network; in floating
point the error depends on the coupling arithmetic's dtype (eq. 5/6 divide by p and a_t) and on whether the
network's output for the same input is bit-identical going forward and backward (it is, on CPU and with
deterministic kernels).

    python benchmarks/roundtrip.py                          # CPU: pixel UNet 1x3x32x32, T in {10, 25, 50}
    python benchmarks/roundtrip.py --device cuda --sd15     # GPU: SD 1.5 UNet architecture, 64x64 latents
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, pixel_unet  # noqa: E402

import doodl  # noqa: E402
from diffusers.utils import logging as dlog  # noqa: E402

dlog.set_verbosity_error()

DT = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def combos(device: str) -> list[tuple[str, str]]:
    """(coupling, network) dtype pairs worth reporting on this device."""
    pairs = [("float64", "float64"), ("float64", "float32"), ("float32", "float32")]
    half = ["bfloat16", "float16"] if device == "cuda" else []  # CPU half-precision kernels are emulated: slow
    return pairs + [(c, h) for h in half for c in ("float64", "float32")]


def build(device: str, sd15: bool, size: int):
    """A random network returning eps, its alphas_cumprod, and the latent shape."""
    if sd15:
        from sd15 import sd15_unet  # noqa: PLC0415  (GPU path)

        unet, ctx = sd15_unet(device)
        return (lambda x, t: unet(x, t, encoder_hidden_states=ctx.to(x.dtype)).sample), unet, \
            doodl.make_alphas_cumprod("scaled_linear"), (1, 4, 64, 64)
    unet = pixel_unet(size, 3, (32, 64, 64)).to(device)
    return (lambda x, t: unet(x, t).sample), unet, doodl.make_alphas_cumprod("linear"), (1, 3, size, size)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", default="10,25,50")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sd15", action="store_true")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "roundtrip.json"))
    a = p.parse_args()
    model, unet, ac, shape = build(a.device, a.sd15, a.size)
    rows = []
    for coupling, net in combos(a.device):
        unet.to(DT[net])
        for T in (int(s) for s in a.steps.split(",")):
            r = doodl.roundtrip_error(model, shape, doodl.VPSchedule(ac).steps(T), dtype=DT[coupling], model_dtype=DT[net],
                                      device=a.device)
            rows.append({"coupling": coupling, "network": net, "T": T, "max_abs": r.max_abs_error, "rel": r.rel_error})
    what = "SD 1.5 UNet arch, 1x4x64x64" if a.sd15 else f"pixel UNet 32-64-64, {shape}"
    print(f"# roundtrip on {machine()}: {what}")
    print(f"{'coupling':>9} {'network':>9} {'T':>3} {'max |err|':>10} {'rel err':>10}")
    for r in rows:
        print(f"{r['coupling']:>9} {r['network']:>9} {r['T']:>3} {r['max_abs']:10.2e} {r['rel']:10.2e}")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"machine": machine(), "what": what, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
