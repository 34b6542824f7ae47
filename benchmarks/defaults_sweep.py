"""Tune / check the zoo family's optimizer defaults (doodl.optimizer.defaults, BENCHMARKS.md §5).

  tune:   python benchmarks/defaults_sweep.py tune    (tuning losses, seeds 100+; a small lr x clip grid)
  report: python benchmarks/defaults_sweep.py report  (other losses, seeds 0-1, the family defaults; one with the paper's)

Prints one JSON line per (loss, config): the mean loss before and after opt_steps updates.
"""

from __future__ import annotations

import json
import sys
import time

import torch

import doodl

H = torch.linspace(0, 1, 28).view(1, 1, 1, 28).expand(1, 1, 28, 28)  # left-to-right ramp
V = H.transpose(-1, -2)  # top-to-bottom ramp
CHECK = ((torch.arange(28).view(-1, 1) // 7 + torch.arange(28).view(1, -1) // 7) % 2).float().view(1, 1, 28, 28)

TUNE = {  # used to choose the defaults
    "darken": lambda im: im.mean((1, 2, 3)),
    "mse_checker": lambda im: (im - CHECK).pow(2).mean((1, 2, 3)),
}
REPORT = {  # never used for tuning
    "brighten": lambda im: 1 - im.mean((1, 2, 3)),
    "mse_h_ramp": lambda im: (im - H).pow(2).mean((1, 2, 3)),
    "top_minus_bottom": lambda im: im[..., :14, :].mean((1, 2, 3)) - im[..., 14:, :].mean((1, 2, 3)),
}


def run(name, loss, seeds, opt_steps, **kw):
    t = time.perf_counter()
    r = doodl.optimize(doodl.load_backend("fashion"), loss, seed=seeds, opt_steps=opt_steps, progress=False, **kw)
    first, last = r.history[0].mean_loss, float(r.loss.mean())
    print(json.dumps({"loss": name, **kw, "opt_steps": opt_steps, "seeds": seeds, "before": round(first, 4),
                      "after": round(last, 4), "seconds": round(time.perf_counter() - t, 1)}), flush=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1:] == ["tune"]:
        for lr in (1.0, 10.0, 100.0):
            for clip in (1e-2, 3e-2):
                for name, loss in TUNE.items():
                    run(name, loss, [100, 101], 20, lr=lr, grad_clip=clip)
    else:
        for name, loss in REPORT.items():
            run(name, loss, [0, 1], 20)
        run("brighten", REPORT["brighten"], [0, 1], 20, lr=0.1, grad_clip=1e-3, perturb_std=1e-2)  # the paper's SD values
