"""Tune DOODL lr / clip for the vocab demo on seeds 100-107 (never the reported 0-7).

    python benchmarks/vocab_sweep.py OUT.json [cuda|cpu]
"""
import json, sys, time, torch
import doodl
from doodl.demo.vocab import VocabConfig, run_vocab
from doodl.zoo import load_classifier
from doodl.data.fashion_mnist import load_fashion_mnist, as_float_images
dev = sys.argv[2] if len(sys.argv) > 2 else ("cuda" if torch.cuda.is_available() else "cpu")
b = doodl.load_backend("fashion", device=dev)
g, e = load_classifier("fashion-guide", dev), load_classifier("fashion-eval", dev)
imgs, labels = load_fashion_mnist("test")
grid = [(0.1, 0.005), (0.3, 0.015), (1.0, 0.05)]  # (lr, grad_clip)
classes = [9, 6]
rows, t0 = [], time.time()
for lr, clip in grid:
    accs, fids = [], []
    for k in classes:
        ref = as_float_images(imgs[labels == k])
        r = run_vocab(b, g, e, ref, k, list(range(100, 108)), VocabConfig(steps=50, opt_steps=6, lr=lr, grad_clip=clip), methods=["doodl"])
        accs.append(r.metrics["doodl"]["target_accuracy"]); fids.append(r.metrics["doodl"]["fid"])
    rows.append({"lr": lr, "grad_clip": clip, "acc": sum(accs) / len(accs), "fid": sum(fids) / len(fids), "per_class": accs})
    print(rows[-1], f"{time.time() - t0:.0f}s", flush=True)
best = max(rows, key=lambda r: (r["acc"], -r["fid"]))
json.dump({"rows": rows, "best": best, "classes": classes, "seeds": "100-107"}, open(sys.argv[1], "w"), indent=1)
print("BEST", json.dumps(best))
