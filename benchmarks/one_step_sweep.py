"""One-step classifier guidance's scale on the superclass task, on tuning seeds 100-107 (never the reported 0-7):
target accuracy by the evaluation classifier and saturated share per lambda, so the demo's baseline is not a
strawman at T = 20 (BENCHMARKS.md §5.4).

  python benchmarks/one_step_sweep.py [CLASSES] [SCALES]     e.g. "9,7,5" "0.5,1,2,5,10"
"""

from __future__ import annotations

import json
import sys

import torch

from doodl.demo.vocab import VocabConfig, classifier_loss, saturated_share
from doodl.optimizer import sample
from doodl.zoo import load_classifier, load_fashion_backend
from doodl.zoo.fid import predict
from doodl.zoo.superclass import superclass_of

if __name__ == "__main__":
    torch.set_num_threads(1)
    classes = [int(c) for c in (sys.argv[1] if len(sys.argv) > 1 else "9,7,5").split(",")]
    scales = [float(s) for s in (sys.argv[2] if len(sys.argv) > 2 else "0.5,1,2,5,10").split(",")]
    seeds, cfg = list(range(100, 108)), VocabConfig()
    b = load_fashion_backend(name="fashion-super-ddpm")
    guide, ev = load_classifier("fashion-guide"), load_classifier("fashion-eval")
    for k in classes:
        for lam in scales:
            im = sample(b, seed=seeds, num_inference_steps=cfg.steps, method="one_step", loss=classifier_loss(guide, k),
                        scale=lam, class_label=superclass_of(k)).images
            print(json.dumps({"target": k, "scale": lam, "acc": float((predict(im, ev) == k).float().mean()),
                              "saturated": round(saturated_share(im), 4)}), flush=True)
