"""Superclass accuracy of fashion-super-ddpm samples (32 per label, DDIM 20) and its sample grid (BENCHMARKS.md §5.2)."""
import torch, json
torch.set_num_threads(1)
from doodl.zoo import load_fashion_backend, load_classifier
from doodl.zoo.fid import predict
from doodl.zoo.superclass import to_super_labels, SUPER_NAMES
from doodl.optimizer import sample
from doodl.io.images import save_png
from doodl.io import grid
b = load_fashion_backend(name="fashion-super-ddpm"); ev = load_classifier("fashion-eval")
out = {}; rows = []
for s in range(4):
    im = sample(b, seed=list(range(10000, 10032)), num_inference_steps=20, class_label=s).images
    p = predict(im, ev)
    out[SUPER_NAMES[s]] = {"superclass_accuracy": float((to_super_labels(p) == s).float().mean()),
                           "fine_counts": torch.bincount(p, minlength=10).tolist()}
    rows.append(im[:8])
    print(json.dumps(out[SUPER_NAMES[s]]), flush=True)
save_png("fashion-super-ddpm.png", grid(rows, scale=2))
print(json.dumps(out))
