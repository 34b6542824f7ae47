"""EDICT chain stability on the flow backends (SD3, Flux-dev, Flux-schnell) over p at their usual T.

Runs doodl.samplers.stability.chain_report on the tiny offline pipelines of doodl.testing (random weights:
the numbers show the coupling's own dynamics on a rectified-flow Euler chain, not a trained model's).
On a flow step a = 1, so the mixing layer shrinks the x - y gap by p^2 per step (y' - x' = p^2 (y_inter -
x_inter)) and the growth bound is 1 for every p < 1; only the network's Jacobian can widen the gap.

  OMP_NUM_THREADS=1 python benchmarks/flow_chain_table.py [--out benchmarks/results/flow_chain_table.jsonl]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

import doodl
from doodl.samplers.stability import chain_report

CASES = (("sd3", 28, {"prompt": "a red cube", "guidance_scale": 7.0}),
         ("flux", 28, {"prompt": "a red cube", "guidance_scale": 3.5}),
         ("flux-schnell", 4, {"prompt": "a red cube"}))


def main() -> None:
    """Print one JSON line per (model, p) and optionally write them to --out."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--mix", type=float, nargs="+", default=[0.8, 0.9, 0.93, 0.97, 0.99])
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, T, cond in CASES:
            backend = doodl.load_backend(doodl.testing.save_tiny_pipeline(kind, Path(tmp) / kind))
            for p in args.mix:
                row = {"model": f"tiny {kind}", "T": T, **chain_report(backend, p, T, seeds=[100, 101], **cond).as_dict()}
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.out is not None:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
