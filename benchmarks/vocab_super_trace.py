"""Per-update trace of DOODL on the superclass task (tuning seeds 100+, never the reported 0-7): the evaluation
classifier's target accuracy, the guidance loss and the saturated share after every update, plus what
select="last" / "best" / a held-out scorer would return. BENCHMARKS.md §5.

  python benchmarks/vocab_super_trace.py TARGET [LR] [OPT_STEPS] [GUIDANCE_SCALE]
"""

from __future__ import annotations

import json
import sys
import time

import torch

from doodl.data.fashion_mnist import class_index
from doodl.demo.vocab import VocabConfig, classifier_loss, saturated_share
from doodl.optimizer import DoodlConfig, optimize, sample
from doodl.zoo import load_classifier, load_fashion_backend
from doodl.zoo.fid import predict
from doodl.zoo.superclass import superclass_of

if __name__ == "__main__":
    torch.set_num_threads(1)
    k = class_index(sys.argv[1])
    lr = float(sys.argv[2]) if len(sys.argv) > 2 else VocabConfig().lr
    m = int(sys.argv[3]) if len(sys.argv) > 3 else VocabConfig().opt_steps
    w = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    seeds = [100, 101, 102, 103]
    cfg = VocabConfig()
    b = load_fashion_backend(name="fashion-super-ddpm")
    guide, ev = load_classifier("fashion-guide"), load_classifier("fashion-eval")
    cond = {"class_label": superclass_of(k), "guidance_scale": w}
    loss = classifier_loss(guide, k, cfg.shifts, cfg.max_shift)
    t = time.perf_counter()
    van = sample(b, seed=seeds, num_inference_steps=cfg.steps, **cond).images
    one = sample(b, seed=seeds, num_inference_steps=cfg.steps, method="one_step", loss=classifier_loss(guide, k),
                 scale=cfg.one_step_scale, **cond).images
    for name, im in (("vanilla", van), ("one_step", one)):
        print(json.dumps({"method": name, "target": k, "w": w, "acc": float((predict(im, ev) == k).float().mean()),
                          "saturated": saturated_share(im)}), flush=True)
    rows = []

    def cb(info):
        im = info["images"]
        rows.append({"step": info["step"], "acc": float((predict(im, ev) == k).float().mean()),
                     "loss": float(info["loss"].mean()), "saturated": saturated_share(im)})
        print(json.dumps({"target": k, "lr": lr, "w": w, **rows[-1], "s": round(time.perf_counter() - t)}), flush=True)

    dc = DoodlConfig(lr=lr, grad_clip=cfg.grad_clip, perturb_std=cfg.perturb_std, mix=cfg.mix, select="best")
    r = optimize(b, loss, seed=seeds, num_inference_steps=cfg.steps, opt_steps=m, config=dc, callback=cb,
                 progress=False, **cond)
    print(json.dumps({"select_best_acc": float((predict(r.images, ev) == k).float().mean()),
                      "best_steps": r.best_step.tolist()}), flush=True)
