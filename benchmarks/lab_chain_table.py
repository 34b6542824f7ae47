"""EDICT chain stability on the lab's unconditional point denoiser over a (T, p) grid (BENCHMARKS.md §6).

Trains the lab's unconditional denoiser as `doodl lab DATA` does (LabConfig defaults, seed 0), wraps it in the
lab's VectorBackend and prints one chain_report JSON line per (T, p), 64 seeds each.

  OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/lab_chain_table.py [fractal|gaussian1d]
"""

from __future__ import annotations

import json
import sys

import torch

from doodl.lab.config import LabConfig
from doodl.lab.doodl_points import VectorBackend
from doodl.lab.experiment import load_points
from doodl.lab.nets import PointMLP
from doodl.lab.train import train_denoiser
from doodl.samplers.stability import chain_report
from doodl.schedules import make_alphas_cumprod

if __name__ == "__main__":
    torch.set_num_threads(1)
    cfg = LabConfig(data=sys.argv[1] if len(sys.argv) > 1 else "fractal")  # type: ignore[arg-type]
    ac = make_alphas_cumprod("linear")
    x, _, _, _ = load_points(cfg)
    torch.manual_seed(cfg.seed)
    net = PointMLP(cfg.dim, None, width=cfg.width, octaves=cfg.denoiser_octaves)
    train_denoiser(net, x, None, ac, cfg.denoiser)
    backend = VectorBackend(net, ac, cfg.dim)
    for T in (20, 25, 50):
        for p in (0.93, 0.9, 0.85, 0.8, 0.7):
            print(json.dumps({"data": cfg.data, **chain_report(backend, p, T, seeds=64).as_dict()}), flush=True)
