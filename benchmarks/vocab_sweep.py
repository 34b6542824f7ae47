"""Tune DOODL for the vocab demo on seeds that are never reported (default 100-103; reports use 0-7).

For each setting, one DOODL run per class records, after every update, the evaluation classifier's target
accuracy of each image's best iterate so far (by guidance loss), so one run gives the whole curve over m.

    python benchmarks/vocab_sweep.py OUT.json --settings 0.3:0.015 1.0:0.05 --classes 9,6 --opt-steps 10
    python benchmarks/vocab_sweep.py OUT.json --settings adam:0.05 --threads 1

A setting is lr:grad_clip (momentum, paper eq. 8) or adam:lr (Adam, ours; no clip).
"""
from __future__ import annotations

import argparse
import json
import time

import torch

import doodl
from doodl.data.fashion_mnist import as_float_images, load_fashion_mnist
from doodl.demo.vocab import VocabConfig, classifier_loss
from doodl.optimizer import DoodlConfig, optimize
from doodl.zoo import load_classifier
from doodl.zoo.fid import fmnist_fid, predict


def parse_setting(s: str) -> tuple[str, DoodlConfig]:
    """'lr:clip' or 'adam:lr' -> (label, DoodlConfig)."""
    a, b = s.split(":")
    base = VocabConfig()
    if a == "adam":
        return s, DoodlConfig(lr=float(b), optimizer="adam", perturb_std=base.perturb_std)
    return s, DoodlConfig(lr=float(a), grad_clip=float(b), perturb_std=base.perturb_std)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--settings", nargs="+", default=["0.3:0.015", "1.0:0.05"])
    p.add_argument("--classes", default="9,6")
    p.add_argument("--seeds", default="100-103")
    p.add_argument("--opt-steps", type=int, default=10)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    lo, hi = (int(v) for v in a.seeds.split("-"))
    seeds, classes = list(range(lo, hi + 1)), [int(k) for k in a.classes.split(",")]
    b = doodl.load_backend("fashion", device=a.device)
    guide, ev = load_classifier("fashion-guide", a.device), load_classifier("fashion-eval", a.device)
    test_x, test_y = load_fashion_mnist("test")
    vc = VocabConfig()
    rows, t0 = [], time.time()
    for s in a.settings:
        label, dc = parse_setting(s)
        curve_acc, curve_guide, fids = [], [], []
        for k in classes:
            best_loss = torch.full((len(seeds),), float("inf"))
            best = None
            acc, gacc = [], []

            def track(info: dict) -> None:
                nonlocal best, best_loss
                cur = info["loss"].cpu().float()
                imgs = info["images"].cpu()
                better = cur < best_loss
                best = imgs.clone() if best is None else torch.where(better[:, None, None, None], imgs, best)
                best_loss = torch.minimum(best_loss, cur)
                acc.append((predict(best, ev) == k).float().mean().item())
                gacc.append((predict(best, guide) == k).float().mean().item())

            loss = classifier_loss(guide, k, vc.shifts, vc.max_shift)
            r = optimize(b, loss, seed=seeds, num_inference_steps=a.steps, opt_steps=a.opt_steps, config=dc,
                         callback=track, progress=False)
            curve_acc.append(acc)
            curve_guide.append(gacc)
            fids.append(fmnist_fid(r.images, as_float_images(test_x[test_y == k]), ev))
        mean = lambda cols: [round(sum(c) / len(c), 3) for c in zip(*cols)]
        rows.append({"setting": label, "eval_acc_by_update": mean(curve_acc), "guide_acc_by_update": mean(curve_guide),
                     "per_class_final": {k: c[-1] for k, c in zip(classes, curve_acc)}, "fid_final": sum(fids) / len(fids),
                     "seconds": round(time.time() - t0)})
        print(json.dumps(rows[-1]), flush=True)
        json.dump({"rows": rows, "classes": classes, "seeds": a.seeds, "steps": a.steps}, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
