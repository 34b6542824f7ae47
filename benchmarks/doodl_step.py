"""Seconds and peak memory of one DOODL optimisation step against plain sampling, per gradient mode and T.

Side by side in one run: DDIM sampling, EDICT sampling (no grad), and a DOODL step (the chain forward, the
loss on both outputs, the backward through the chain, the update) in each gradient mode, for T in {10, 25, 50}.
Theory for exact gradients: a step costs about 8T network evaluations, 4x EDICT sampling and 8x DDIM.

    python benchmarks/doodl_step.py                       # CPU: pixel UNet 4x3x32x32, small CNN loss
    python benchmarks/doodl_step.py --quick --inprocess   # smoke run (the test suite)
    python benchmarks/doodl_step.py --sd15 --device cuda  # GPU: SD 1.5 UNet+VAE architecture at 512x512 (random
                                                          # weights), CFG, CLIP ViT-L/14-architecture scorer, 16 crops
    python benchmarks/doodl_step.py --arch sdxl|sd3|flux --device cuda --dtype bfloat16 --inprocess --steps 10,25
                                                          # GPU: the real SDXL / SD3 / Flux-dev architectures at
                                                          # 1024x1024 (arch.py: random weights, precomputed random
                                                          # prompt embeddings), small CNN loss
    python benchmarks/doodl_step.py --arch flux --scale 0.1 --size 256 --dtype float32 --text-tokens 64  # CPU, reduced
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, maxrss_mb, pixel_unet, run_isolated, timed  # noqa: E402

import doodl  # noqa: E402
from doodl.backends import PixelBackend  # noqa: E402

MODES = ("reversible", "checkpoint", "naive")


def small_cnn_loss(channels: int, classes: int = 10, target: int = 3):
    """A random small CNN classifier and a cross-entropy loss toward `target` (stands in for a scorer)."""
    torch.manual_seed(1)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(channels, 16, 3, padding=1), torch.nn.SiLU(), torch.nn.AvgPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.SiLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(32, classes),
    ).eval().requires_grad_(False)

    def loss(images):
        logits = net(images)
        return torch.nn.functional.cross_entropy(logits, torch.full((images.shape[0],), target), reduction="none")

    return loss


def build_cpu(size: int, batch: int, widths: tuple[int, ...], device: str):
    """Pixel backend with a random UNet2DModel and a small CNN loss."""
    unet = pixel_unet(size, 3, widths).to(device)
    return PixelBackend(unet, doodl.make_alphas_cumprod("linear")), small_cnn_loss(3), {}


def one(kind: str, T: int, cfg: dict) -> dict:
    """Measure one cell (kind = ddim | edict | a gradient mode) in this process."""
    device = cfg["device"]
    if cfg.get("sd15"):
        from sd15 import build_sd15  # noqa: PLC0415  (GPU-only path)

        backend, loss, cond = build_sd15(device, cfg.get("dtype", "float16"), crops=cfg.get("crops", 16),
                                         compile_unet=cfg.get("compile", False))
    elif cfg.get("arch"):
        from arch import build  # noqa: PLC0415

        from doodl.backends.sd import as_dtype  # noqa: PLC0415

        backend, cond = build(cfg["arch"], device, as_dtype(cfg["dtype"]), cfg["arch_size"], cfg["scale"],
                              cfg.get("text_tokens"))
        loss = small_cnn_loss(3)
    else:
        backend, loss, cond = build_cpu(cfg["size"], cfg["batch"], tuple(cfg["widths"]), device)
    batch = cfg["batch"]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    seeds = list(range(batch))
    model = backend.denoiser(doodl.Conditioning(**cond))
    ts = backend.steps(T)
    xT = doodl.optimizer.seeds.initial_latents(backend, seeds)

    def ddim():
        with torch.no_grad():
            doodl.ddim_sample(model, xT, ts, model_dtype=backend.dtype)

    def edict():
        doodl.edict_sample(model, xT, xT, ts, grad="none", model_dtype=backend.dtype)

    ddim()  # warm-up (kernels, allocator)
    base_rss = maxrss_mb()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    if kind == "ddim":
        sec = timed(ddim, 2, sync)
    elif kind == "edict":
        sec = timed(edict, 2, sync)
    else:
        steps = cfg.get("opt_steps", 3)
        try:
            r = doodl.optimize(backend, loss, seed=seeds, num_inference_steps=T, opt_steps=steps, grad_mode=kind,
                               progress=False, **cond)
        except torch.cuda.OutOfMemoryError:  # naive autograd at large T: the point of the comparison
            del model
            torch.cuda.empty_cache()
            return {"kind": kind, "T": T, "seconds": None, "peak_mb": None, "peak_total_gb": None, "oom": True}
        h = r.history  # history[i].seconds: time at evaluation i; consecutive gaps = one full step
        sec = (h[steps - 1].seconds - h[0].seconds) / (steps - 1)
        if cfg.get("arch"):  # what the chain keeps for backward: exact, unlike in-process RSS
            from arch import saved_mb  # noqa: PLC0415

            saved = saved_mb(model, xT, ts, kind)
            print(f"# {kind} T={T}: chain keeps {saved:.1f} MB for backward", flush=True)
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if device == "cuda" else maxrss_mb() - base_rss
    peak_total = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else maxrss_mb() / 1024
    return {"kind": kind, "T": T, "seconds": sec, "peak_mb": peak, "peak_total_gb": peak_total}


def sync_check(cfg: dict, T: int = 4) -> dict:
    """Count host synchronisations (torch.cuda sync debug mode) in one DOODL step and in the T-step chain."""
    import warnings

    from sd15 import build_sd15  # noqa: PLC0415

    backend, loss, cond = build_sd15("cuda", cfg.get("dtype", "float16"), crops=cfg.get("crops", 16))
    doodl.optimize(backend, loss, seed=[0], num_inference_steps=T, opt_steps=1, progress=False, **cond)  # warm-up
    model = backend.denoiser(doodl.Conditioning(**cond))
    xT = doodl.optimizer.seeds.initial_latents(backend, [0])
    counts = {}
    for what, fn in (
        ("edict chain (no grad)", lambda: doodl.edict_sample(model, xT, xT, backend.steps(T), grad="none",
                                                             model_dtype=backend.dtype)),
        ("doodl step", lambda: doodl.optimize(backend, loss, seed=[0], num_inference_steps=T, opt_steps=1,
                                              progress=False, **cond)),
    ):
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode(1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn()
        torch.cuda.set_sync_debug_mode(0)
        counts[what] = len([w for w in caught if "synchroniz" in str(w.message)])
    return {"T": T, "syncs": counts}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny model, T in {2, 4}: a smoke run")
    p.add_argument("--steps", default=None, help="comma-separated T values (default 10,25,50)")
    p.add_argument("--modes", default=",".join(MODES), help="gradient modes to measure")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sd15", action="store_true", help="SD 1.5 architecture at 512x512 (GPU)")
    p.add_argument("--dtype", default="float16", help="network dtype for --sd15/--arch (float16, bfloat16, float32)")
    p.add_argument("--arch", choices=("sdxl", "sd3", "flux"), default=None, help="SDXL / SD3 / Flux-dev architecture")
    p.add_argument("--scale", type=float, default=1.0, help="--arch depth and width factor (1: the real model)")
    p.add_argument("--size", type=int, default=1024, help="--arch image size in pixels")
    p.add_argument("--text-tokens", type=int, default=None, help="--arch text tokens (default: the model's)")
    p.add_argument("--crops", type=int, default=16, help="CLIP crops per image for --sd15")
    p.add_argument("--compile", action="store_true", help="torch.compile the UNet (--sd15)")
    p.add_argument("--opt-steps", type=int, default=3, help="DOODL steps per measurement (>= 2; the first is warm-up)")
    p.add_argument("--sync-check", action="store_true", help="count host syncs in one step (CUDA, --sd15) and exit")
    p.add_argument("--inprocess", action="store_true", help="measure in this process (peak RSS then unreliable)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "doodl_step.json"))
    p.add_argument("--worker", nargs=3, metavar=("KIND", "T", "CFG"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        kind, T, cfg = a.worker
        print(json.dumps(one(kind, int(T), json.loads(cfg))))
        return
    cfg = {"device": a.device, "sd15": a.sd15, "dtype": a.dtype, "crops": a.crops, "compile": a.compile,
           "arch": a.arch, "scale": a.scale, "arch_size": a.size, "text_tokens": a.text_tokens,
           "opt_steps": max(2, a.opt_steps),
           "size": 8 if a.quick else 32, "batch": 1 if (a.quick or a.sd15 or a.arch) else 4,
           "widths": [8, 16] if a.quick else [32, 64, 64]}
    if a.sync_check:
        print(json.dumps(sync_check(cfg)))
        return
    steps = [int(s) for s in (a.steps or ("2,4" if a.quick else "10,25,50")).split(",")]
    modes = [m for m in a.modes.split(",") if m]
    rows = []
    for T in steps:
        cells = {}
        for kind in ("ddim", "edict", *modes):
            cells[kind] = one(kind, T, cfg) if a.inprocess else run_isolated(__file__, [kind, str(T), json.dumps(cfg)])
        rows.append({"T": T, **{f"{k}_{f}": v[f] for k, v in cells.items() for f in ("seconds", "peak_mb", "peak_total_gb")}})
        print(f"T={T}: " + ", ".join(f"{k} {v['seconds']}" for k, v in cells.items()), flush=True)
    what = "SD 1.5 arch 512x512, CFG, CLIP L/14 arch" if a.sd15 else f"pixel UNet {cfg['widths']} {cfg['batch']}x3x{cfg['size']}^2"
    if a.arch:
        what = f"{a.arch} arch x{a.scale} at {a.size}^2, {a.dtype}, text tokens {a.text_tokens or 'default'}, small CNN loss"
    print(f"# doodl_step on {machine()}: {what}")
    print(f"{'T':>3} {'ddim s':>8} {'edict s':>8} " + " ".join(f"{m[:5] + ' s/step':>12} {m[:5] + ' MB':>9}" for m in modes)
          + f" {'step/edict':>10} {'step/ddim':>9}")
    for r in rows:
        cols = " ".join(f"{'OOM':>12} {'OOM':>9}" if r[m + "_seconds"] is None else
                        f"{r[m + '_seconds']:12.3f} {max(r[m + '_peak_mb'], 0):9.1f}" for m in modes)
        m0 = modes[0]
        ratio = (lambda d: float("nan") if r[m0 + "_seconds"] is None else r[m0 + "_seconds"] / r[d + "_seconds"])
        print(f"{r['T']:>3} {r['ddim_seconds']:8.3f} {r['edict_seconds']:8.3f} {cols} "
              f"{ratio('edict'):10.2f} {ratio('ddim'):9.2f}")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"machine": machine(), "config": cfg, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
