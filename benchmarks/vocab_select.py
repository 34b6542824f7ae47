"""Which iterate should DOODL return? Per-update trace on tuning seeds (never the reported 0-7) of each image's
guidance loss and whether the evaluation classifier accepts it, then the accuracy of what each DoodlConfig.select
mode returns: "last" (Algorithm 1), "best" (lowest guidance loss), and the oracle (best by the evaluation
classifier itself: the most any held-out scorer could gain). BENCHMARKS.md §5.5.

  python benchmarks/vocab_select.py TARGETS [OPT_STEPS] [N_SEEDS]      e.g. "9,5,7" 20 8
"""

from __future__ import annotations

import json
import sys

import torch

from doodl.demo.vocab import VocabConfig, classifier_loss
from doodl.optimizer import DoodlConfig, optimize
from doodl.zoo import load_classifier, load_fashion_backend
from doodl.zoo.fid import predict
from doodl.zoo.superclass import superclass_of

if __name__ == "__main__":
    torch.set_num_threads(1)
    targets = [int(k) for k in sys.argv[1].split(",")]
    m = int(sys.argv[2]) if len(sys.argv) > 2 else VocabConfig().opt_steps
    seeds = list(range(100, 100 + (int(sys.argv[3]) if len(sys.argv) > 3 else 8)))
    cfg = VocabConfig()
    b = load_fashion_backend(name="fashion-super-ddpm")
    guide, ev = load_classifier("fashion-guide"), load_classifier("fashion-eval")
    for k in targets:
        losses, hits = [], []

        def cb(info):
            losses.append(info["loss"].cpu())
            hits.append((predict(info["images"], ev) == k).cpu())

        dc = DoodlConfig(lr=cfg.lr, grad_clip=cfg.grad_clip, perturb_std=cfg.perturb_std, mix=cfg.mix,
                         range_pull=cfg.range_pull)
        optimize(b, classifier_loss(guide, k, cfg.shifts, cfg.max_shift), seed=seeds, num_inference_steps=cfg.steps,
                 opt_steps=m, config=dc, callback=cb, progress=False, class_label=superclass_of(k))
        L, H = torch.stack(losses), torch.stack(hits).float()  # (steps + 1, B)
        best = L.argmin(0)
        out = {"target": k, "opt_steps": m, "seeds": seeds, "last": float(H[-1].mean()),
               "best": float(H[best, torch.arange(H.shape[1])].mean()), "oracle": float(H.max(0).values.mean()),
               "best_steps": best.tolist()}
        print(json.dumps(out), flush=True)
