"""Cost of one gradient through the EDICT chain, per gradient mode, against sampling without grad.

For T in {5, 10, 25, 50}: seconds and memory of (a) EDICT sampling without grad and (b) one gradient of a
loss on x0 w.r.t. x_T in each mode. Memory is measured three ways: what autograd keeps for the backward pass
(saved-tensor hooks; exact), the peak of live saved tensors during forward AND backward (weights excluded),
as a multiple of one network call's, and the peak RSS growth of a fresh process (CPU) or
torch.cuda.max_memory_allocated. --coupling sets the coupling dtype (the network stays float32).

    python benchmarks/grad_cost.py                # full table, CPU, writes benchmarks/results/grad_cost.json
    python benchmarks/grad_cost.py --quick        # tiny version (used by the test suite)
    python benchmarks/grad_cost.py --coupling float32 --out benchmarks/results/grad_cost_f32.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from doodl.testing.memory import LiveSaved, saved_bytes  # noqa: E402
from common import machine, maxrss_mb, pixel_unet, run_isolated, timed  # noqa: E402

import doodl  # noqa: E402

MODES = ("reversible", "checkpoint", "naive")


def one(mode: str, T: int, size: int, batch: int, widths: tuple[int, ...], device: str,
        coupling: str = "float64") -> dict:
    """Measure one (mode, T) cell in this process: seconds, saved bytes, peak memory growth."""
    unet = pixel_unet(size, 3, widths).to(device)
    model = lambda x, t: unet(x, t).sample  # noqa: E731
    ts = doodl.VPSchedule(doodl.make_alphas_cumprod("linear")).steps(T)
    cdt = getattr(torch, coupling)
    xT = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device, cdt)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    kw = dict(model_dtype=torch.float32)

    def sample():
        doodl.edict_sample(model, xT, xT, ts, grad="none", **kw)

    saved = 0

    def gradient():
        nonlocal saved
        x = xT.clone().requires_grad_(True)
        saved, (x0, y0) = saved_bytes(lambda: doodl.edict_sample(model, x, x, ts, grad=mode, **kw))
        torch.autograd.grad((x0.square().mean() + y0.square().mean()), x)

    weights = {q.untyped_storage().data_ptr() for q in unet.parameters()}

    def live_peak(fn) -> int:
        meter = LiveSaved(weights)
        with meter.hooks():
            fn()
        return meter.peak

    def one_call():
        x = xT.clone().float().requires_grad_(True)
        torch.autograd.grad(model(x, ts[0].t).square().mean(), x)

    def gradient_live():
        x = xT.clone().requires_grad_(True)
        x0, y0 = doodl.edict_sample(model, x, x, ts, grad=mode, **kw)
        torch.autograd.grad((x0.square().mean() + y0.square().mean()), x)

    sample()  # warm-up
    base_rss = maxrss_mb()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base_cuda = torch.cuda.memory_allocated()
    if mode == "sample":
        sec = timed(sample, 2, sync)
    else:
        sec = timed(gradient, 1, sync)
    peak = (torch.cuda.max_memory_allocated() - base_cuda) / 2**20 if device == "cuda" else maxrss_mb() - base_rss
    ratio = None
    if mode in ("reversible", "naive"):  # checkpoint's own saved-tensor hooks hide its recomputation from ours
        ratio = live_peak(gradient_live) / live_peak(one_call)
    return {"mode": mode, "T": T, "seconds": sec, "saved_mb": saved / 2**20, "peak_mb": peak,
            "live_peak_x_one_call": ratio, "coupling": coupling}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny model and T in {2, 4}: a smoke run")
    p.add_argument("--steps", default=None, help="comma-separated T values (default 5,10,25,50)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "grad_cost.json"))
    p.add_argument("--inprocess", action="store_true", help="measure in this process (faster; peak RSS then unreliable)")
    p.add_argument("--coupling", choices=("float64", "float32"), default="float64",
                   help="coupling dtype (doodl's default is float64); the network runs in float32")
    p.add_argument("--worker", nargs=7, metavar=("MODE", "T", "SIZE", "BATCH", "WIDTHS", "DEVICE", "COUPLING"),
                   help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        mode, T, size, batch, widths, device, coupling = a.worker
        print(json.dumps(one(mode, int(T), int(size), int(batch), tuple(int(w) for w in widths.split("-")), device,
                             coupling)))
        return
    size, batch, widths = (8, 1, "8-16") if a.quick else (32, 4, "32-64-64")
    steps = [int(s) for s in (a.steps or ("2,4" if a.quick else "5,10,25,50")).split(",")]
    rows = []
    for T in steps:
        if a.inprocess:
            w = tuple(int(v) for v in widths.split("-"))
            cells = {m: one(m, T, size, batch, w, a.device, a.coupling) for m in ("sample", *MODES)}
        else:
            cells = {m: run_isolated(__file__, [m, str(T), str(size), str(batch), widths, a.device, a.coupling])
                     for m in ("sample", *MODES)}
        keys = ("seconds", "saved_mb", "peak_mb", "live_peak_x_one_call")
        rows.append({"T": T, **{f"{m}_{k}": cells[m][k] for m in cells for k in keys}})
    print(f"# grad_cost on {machine()}: UNet2DModel widths {widths}, {batch}x3x{size}x{size}, network fp32, "
          f"coupling {a.coupling}")
    hdr = f"{'T':>3} {'sample s':>9} " + " ".join(f"{m[:5] + ' s':>8} {m[:5] + ' MB':>9}" for m in MODES)
    print(hdr + f" {'rev/sample':>10} {'rev/naive':>9}")
    for r in rows:
        cols = " ".join(f"{r[m + '_seconds']:8.2f} {max(r[m + '_peak_mb'], 0):9.1f}" for m in MODES)
        print(f"{r['T']:>3} {r['sample_seconds']:9.2f} {cols} {r['reversible_seconds'] / r['sample_seconds']:10.2f} "
              f"{r['reversible_seconds'] / r['naive_seconds']:9.2f}")
    # checkpoint's own saved-tensor hooks hide what it keeps from ours, so only reversible and naive are shown.
    print("saved-for-backward MB (exact, autograd hooks): " + "; ".join(
        f"T={r['T']}: reversible {r['reversible_saved_mb']:.2f}, naive {r['naive_saved_mb']:.1f}" for r in rows))
    print("peak live saved during forward+backward, x one network call: " + "; ".join(
        f"T={r['T']}: reversible {r['reversible_live_peak_x_one_call']:.2f}, naive {r['naive_live_peak_x_one_call']:.1f}"
        for r in rows))
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"machine": machine(), "size": size, "batch": batch, "widths": widths, "coupling": a.coupling,
                   "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
