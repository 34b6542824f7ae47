"""Where DOODL's saturated boots come from (issue 15 item 4), on tuning seeds 100+ (never the reported 0-7).

For each update of DOODL on the superclass task it prints the evaluation classifier's target accuracy, the guidance
loss, the saturated share of the decoded images and the *overshoot*: the share of lit pixels whose undecoded value
lies beyond +1 (white) before the decoder's clamp, where the clamp's gradient is zero. Variants of the decoder the
loss sees: "clamp" (the paper's plain clamp), "reflect" (overshoot mirrored back into range), "restore:K" (the
restoring clamp with range_pull K, doodl.backends.ranges). Results: benchmarks/results/vocab_saturation_*.jsonl.

  python benchmarks/vocab_saturation.py TARGET DECODE [OPT_STEPS] [SEEDS] [LR]
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


class Probe:
    """Wraps a pixel backend: records the overshoot of what it decodes; optionally decodes with a variant."""

    def __init__(self, backend, mode: str) -> None:
        self.b, self.mode, self.last = backend, mode, float("nan")

    def __getattr__(self, name):
        return getattr(self.b, name)

    def decode(self, latents, range_pull=0.0):
        p = self.b.pad
        x = latents[..., p : latents.shape[-2] - p, p : latents.shape[-1] - p]
        lit = x > -1 + 0.04
        self.last = float(((x > 1) & lit).sum() / lit.sum().clamp(min=1))
        if self.mode == "clamp" or self.mode == "restore:0":
            return self.b.decode(latents)
        if self.mode == "reflect":  # mirror overshoot back into range: a pixel at 1 + d shows as 1 - d
            img = (x + 1) / 2
            return torch.where(img > 1, 2 - img, torch.where(img < 0, -img, img)).clamp(0, 1)
        if self.mode.startswith("restore:"):  # clamp, but beyond the range the gradient pulls back: k/2 * overshoot^2
            return self.b.decode(latents, range_pull=float(self.mode.split(":")[1]))  # doodl.backends.ranges
        raise ValueError(self.mode)


if __name__ == "__main__":
    torch.set_num_threads(1)
    k, mode = class_index(sys.argv[1]), sys.argv[2]
    m = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    cfg = VocabConfig()
    lr = float(sys.argv[5]) if len(sys.argv) > 5 else cfg.lr
    seeds = list(range(100, 100 + n))
    b = load_fashion_backend(name="fashion-super-ddpm")
    probe = Probe(b, mode)
    guide, ev = load_classifier("fashion-guide"), load_classifier("fashion-eval")
    cond = {"class_label": superclass_of(k)}
    van = sample(b, seed=seeds, num_inference_steps=cfg.steps, **cond).images
    print(json.dumps({"method": "vanilla", "acc": float((predict(van, ev) == k).float().mean()),
                      "saturated": saturated_share(van)}), flush=True)
    loss = classifier_loss(guide, k, cfg.shifts, cfg.max_shift)
    t = time.perf_counter()

    def cb(info):
        im = b.decode(b.encode(info["images"]))  # the clamped image, as saved
        print(json.dumps({"target": k, "mode": mode, "step": info["step"], "loss": round(float(info["loss"].mean()), 4),
                          "acc": float((predict(im, ev) == k).float().mean()), "saturated": round(saturated_share(im), 4),
                          "overshoot": round(probe.last, 4), "s": round(time.perf_counter() - t)}), flush=True)

    dc = DoodlConfig(lr=lr, grad_clip=cfg.grad_clip, perturb_std=cfg.perturb_std, mix=cfg.mix)
    optimize(probe, loss, seed=seeds, num_inference_steps=cfg.steps, opt_steps=m, config=dc, callback=cb,
             progress=False, **cond)
