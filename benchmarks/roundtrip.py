"""EDICT inversion round-trip error per precision: coupling dtype x network dtype, for several T.

edict_invert(edict_sample(x_T)) should return x_T. In exact arithmetic it does for any network; in floating
point the error depends on the coupling arithmetic's dtype (eq. 5/6 divide by p and a_t) and on whether the
network's output for the same input is bit-identical going forward and backward (it is, on CPU and with
deterministic kernels).

    python benchmarks/roundtrip.py                          # CPU: pixel UNet 1x3x32x32, T in {10, 25, 50}
    python benchmarks/roundtrip.py --device cuda --sd15     # GPU: SD 1.5 UNet architecture, 64x64 latents
    python benchmarks/roundtrip.py --edit-tiny-sd           # doodl edit's path: encode, invert_image, regenerate
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


def edit_tiny_sd(steps: list[int]) -> list[dict]:
    """Max |z0' - z0| of invert_image then edict_sample on doodl.testing's tiny SD (float32 network)."""
    from doodl.testing import tiny_sd_pipeline

    backend = doodl.StableDiffusionBackend.from_pipeline(tiny_sd_pipeline())
    img = torch.rand((1, *backend.image_shape), generator=torch.Generator().manual_seed(0))
    rows = []
    for coupling in ("float64", "float32"):
        for T in steps:
            inv = doodl.invert_image(backend, img, num_inference_steps=T, dtype=coupling)
            with torch.no_grad():
                z0 = backend.encode(img).to(inv.x.dtype)
                x0, y0 = doodl.edict_sample(backend.denoiser(), inv.x, inv.y, inv.steps, grad="none",
                                            model_dtype=backend.dtype)
            err = max((x0 - z0).abs().max().item(), (y0 - z0).abs().max().item())
            rows.append({"coupling": coupling, "network": "float32", "T": T, "max_abs": err,
                         "rel": ((x0 - z0).double().norm() / z0.double().norm()).item()})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", default="10,25,50")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sd15", action="store_true")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "roundtrip.json"))
    p.add_argument("--edit-tiny-sd", action="store_true", help="invert_image + regenerate on the tiny SD components")
    a = p.parse_args()
    if a.edit_tiny_sd:
        rows = edit_tiny_sd([int(s) for s in a.steps.split(",")])
        print(f"# doodl edit round trip on {machine()}: tiny SD (doodl.testing), encode -> invert_image -> edict_sample")
        for r in rows:
            print(f"{r['coupling']:>9} {r['network']:>9} {r['T']:>3} {r['max_abs']:10.2e} {r['rel']:10.2e}")
        out = a.out.replace("roundtrip.json", "roundtrip_edit_tiny_sd.json")
        with open(out, "w") as f:
            json.dump({"machine": machine(), "rows": rows}, f, indent=1)
        return
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
