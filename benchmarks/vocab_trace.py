"""Trace one DOODL run on the zoo: per update and image, the guidance loss and both classifiers' target probability,
and a picture of every other iterate (rows: updates 0, 2, 4, ...; columns: seeds).

    python benchmarks/vocab_trace.py --lr 3 --clip 0.1 --opt-steps 20 --target 9 --seeds 100-103 --png trace.png
    python benchmarks/vocab_trace.py --typical-clamp 3 --opt-steps 12 --png clamp.png
"""
from __future__ import annotations

import argparse
import json

import torch

import doodl
from doodl.demo.vocab import VocabConfig, classifier_loss
from doodl.io import grid
from doodl.optimizer import DoodlConfig, optimize
from doodl.zoo import load_classifier


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lr", type=float, default=VocabConfig().lr)
    p.add_argument("--clip", type=float, default=VocabConfig().grad_clip)
    p.add_argument("--opt-steps", type=int, default=12)
    p.add_argument("--typical-clamp", type=float, default=None)
    p.add_argument("--steps", type=int, default=VocabConfig().steps)
    p.add_argument("--target", type=int, default=9)
    p.add_argument("--seeds", default="100-103")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--png", default=None)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    lo, hi = (int(v) for v in a.seeds.split("-"))
    k, vc = a.target, VocabConfig()
    backend = doodl.load_backend("fashion")
    guide, ev = load_classifier("fashion-guide"), load_classifier("fashion-eval")
    frames, rows = [], []

    def record(info: dict) -> None:
        im = info["images"]
        with torch.no_grad():
            pg, pe = guide(im).softmax(-1)[:, k], ev(im).softmax(-1)[:, k]
        rows.append({"update": info["step"], "loss": [round(v, 3) for v in info["loss"].tolist()],
                     "p_guide": [round(v, 2) for v in pg.tolist()], "p_eval": [round(v, 2) for v in pe.tolist()]})
        print(json.dumps(rows[-1]), flush=True)
        frames.append(im.clone())

    cfg = DoodlConfig(lr=a.lr, grad_clip=a.clip, perturb_std=vc.perturb_std, typical_clamp=a.typical_clamp)
    optimize(backend, classifier_loss(guide, k, vc.shifts, vc.max_shift), seed=list(range(lo, hi + 1)),
             num_inference_steps=a.steps, opt_steps=a.opt_steps, config=cfg, callback=record, progress=False)
    if a.png:
        grid(frames[::2], scale=2).save(a.png)
    if a.json:
        json.dump({"args": vars(a), "rows": rows}, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
