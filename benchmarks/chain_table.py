"""EDICT chain stability on the zoo DDPM over a (T, p) grid: one JSON line per cell (BENCHMARKS.md §5.1).

  OMP_NUM_THREADS=1 python benchmarks/chain_table.py [MODEL]   (MODEL: a doodl.load_backend name, default fashion)
"""

from __future__ import annotations

import json
import sys

import torch

import doodl
from doodl.samplers.stability import chain_report

if __name__ == "__main__":
    torch.set_num_threads(1)
    b = doodl.load_backend(sys.argv[1] if len(sys.argv) > 1 else "fashion")
    for T in (10, 15, 20, 25, 30, 50):
        for p in (0.93, 0.85, 0.8, 0.7):
            print(json.dumps(chain_report(b, p, T, seeds=[100, 101, 102, 103]).as_dict()), flush=True)
