"""The image lab: CG and CFG on the zoo's Fashion-MNIST DDPMs, a small-UNet postprocessing flow, FMNIST-FID.

Paper §4.2 and App. C.5 on our data (Fashion-MNIST for MNIST): classifier guidance with a noise-aware *linear*
classifier on the flattened image concatenated with the diffusion step; CFG on the class-conditional DDPM;
one postprocessing rectified flow for all scales of a method (App. A) whose velocity is a small class-
conditional UNet (lab.unet.SmallUNet; the paper uses the DDPM's own UNet, far too slow to train on a CPU),
top-k neighbours in pixel space among real training images of the same class. Metric: the zoo's FMNIST-FID (lower is better).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Literal

import torch
from torch import Tensor, nn

from ..backends.pixel import PixelBackend
from ..conditioning import Conditioning
from ..guidance.classifier import classifier_guidance
from ..io.atomic import atomic_write_text, check_writable_dir
from ..io.jsontext import metrics_json
from ..io.images import grid, save_png
from ..optimizer.seeds import initial_latents
from ..samplers.ddim import ddim_sample
from .config import parse_scales, scale_key
from .experiment import LabResult, format_table
from .nets import NoiseAwareClassifier
from .postprocess import FlowConfig, postprocess, train_flow
from .train import TrainConfig, train_classifier
from .unet import SmallUNet

log = logging.getLogger(__name__)
Fid = Callable[[Tensor, Tensor], float]  # (generated images, reference images), both (N, C, H, W) in [0, 1]


@dataclass(frozen=True)
class FmnistConfig:
    """One image-lab run; defaults are ours, sized for a CPU (the paper trains for 100k/2k/10k steps on GPUs)."""

    cg_scales: tuple[float, ...] = (1.0, 2.0, 4.0)
    cfg_scales: tuple[float, ...] = (1.0, 2.0, 3.0)
    n_per_class: int = 30  # generated images per class and scale for the table (300 per scale)
    n_flow: int = 30  # per class and scale, for training the postprocessing flow
    n_real: int = 20_000  # real training images for the classifier and the neighbour search
    n_reference: int = 2_000  # real test images FMNIST-FID compares against
    num_steps: int = 10  # DDIM steps (the zoo UNet costs ~16 ms per image and step on one CPU core)
    classifier: TrainConfig = TrainConfig(steps=2000, batch=256, lr=1e-3)  # noise-aware linear classifier
    flow_train: TrainConfig = TrainConfig(steps=600, batch=32, lr=1e-3, label_dropout=0.0)  # ~0.2 s a step on a CPU core
    flow_width: int = 16  # the postprocessing SmallUNet's base width
    k: int = 20  # top-k neighbours (paper)
    solver: Literal["euler", "dopri5"] = "euler"
    euler_steps: int = 10
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self) -> None:
        """Range-check; errors name the field."""
        parse_scales(",".join(map(str, self.cg_scales)), "cg_scales")
        parse_scales(",".join(map(str, self.cfg_scales)), "cfg_scales")
        for name in ("n_per_class", "n_flow", "n_real", "n_reference", "num_steps", "k", "euler_steps", "flow_width"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.solver not in ("euler", "dopri5"):
            raise ValueError(f"solver must be 'euler' or 'dopri5', got {self.solver!r}")

    def quick(self) -> "FmnistConfig":
        """A reduced run: a handful of images, a few training steps."""
        small = TrainConfig(steps=20, batch=32)
        return replace(self, n_per_class=3, n_flow=3, n_real=500, n_reference=100, num_steps=4, classifier=small,
                       flow_train=replace(small, label_dropout=0.0), flow_width=8, euler_steps=2,
                       k=min(self.k, 5))


@dataclass
class FmnistParts:
    """Everything the image lab runs on; `load_parts` fills it from the zoo, tests pass tiny stand-ins."""

    uncond: PixelBackend  # for classifier guidance
    cond: PixelBackend  # class-conditional with a null label, for CFG
    real_images: Tensor  # (N, C, h, w) in [0, 1]: training images (classifier, neighbours)
    real_labels: Tensor  # (N,)
    reference: Tensor  # (M, C, h, w) in [0, 1]: held-out images for the distance
    fid: Fid  # the table's distance
    num_classes: int = 10


def load_parts(cfg: FmnistConfig) -> FmnistParts:
    """The zoo's two DDPMs and fashion-eval (FMNIST-FID), Fashion-MNIST train and test images."""
    from ..data import as_float_images, load_fashion_mnist
    from ..zoo import fmnist_fid, load_classifier, load_fashion_backend

    try:
        uncond = load_fashion_backend(False, cfg.device)
        cond = load_fashion_backend(True, cfg.device)
        evaluator = load_classifier("fashion-eval", cfg.device)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"the image lab needs the zoo's weights ({e}); train them with `doodl zoo train --model all`") from None
    x, y = load_fashion_mnist("train")
    xt, _ = load_fashion_mnist("test")
    g = torch.Generator().manual_seed(cfg.seed)
    pick = torch.randperm(x.shape[0], generator=g)[: cfg.n_real]
    ref = as_float_images(xt[torch.randperm(xt.shape[0], generator=g)[: cfg.n_reference]])
    return FmnistParts(uncond, cond, as_float_images(x[pick]), y[pick], ref, lambda a, b: fmnist_fid(a, b, evaluator))


def _sample(parts: FmnistParts, method: str, scale: float, clf: nn.Module, n: int, seed: int, steps: int) -> tuple[Tensor, Tensor]:
    """n latents per class with one method and scale (DDIM), and their labels."""
    be = parts.uncond if method == "cg" else parts.cond
    labels = torch.arange(parts.num_classes).repeat_interleave(n)
    seeds = [seed * 1_000_003 + i for i in range(labels.numel())]
    xT = initial_latents(be, seeds)
    lab = labels.to(be.device)
    chain = be.steps(steps)
    if method == "cg":
        model = classifier_guidance(be.denoiser(Conditioning()), clf, chain, scale, lab)
    else:
        model = be.denoiser(Conditioning(class_label=lab, guidance_scale=scale))
    with torch.no_grad():
        x0 = ddim_sample(model, xT, chain, model_dtype=be.dtype)
    return x0.clamp(-1, 1).cpu(), labels


def run_fmnist_lab(cfg: FmnistConfig, out: str | Path, progress: Callable[[str], None] | None = None,
                   parts: FmnistParts | None = None) -> LabResult:
    """The image lab end to end; writes samples_<method>.png, table.json and details.json."""
    say = progress or (lambda m: log.info(m))
    out = check_writable_dir(out)
    t0, c0 = time.perf_counter(), time.process_time()
    parts = parts if parts is not None else load_parts(cfg)
    be = parts.uncond
    reals = torch.cat([be.encode(parts.real_images[i : i + 1000].to(be.device)).cpu() for i in range(0, len(parts.real_images), 1000)])
    if cfg.k > int(torch.bincount(parts.real_labels).min()):
        raise ValueError(f"k ({cfg.k}) is larger than the real set of the smallest class ({int(torch.bincount(parts.real_labels).min())} images)")
    torch.manual_seed(cfg.seed)
    say("training the noise-aware linear classifier (paper App. C.5)")
    clf = NoiseAwareClassifier(reals[0].numel(), parts.num_classes, "linear")
    train_classifier(clf, reals, parts.real_labels, be.schedule.alphas_cumprod.float(), cfg.classifier)
    clf = clf.to(be.device).eval().requires_grad_(False)
    table: dict = {}
    details: dict = {"config": asdict(cfg)}
    for method, scales in (("cfg", cfg.cfg_scales), ("cg", cfg.cg_scales)):
        say(f"{method}: sampling {len(scales)} scale(s)")
        evals, flow_x, flow_y = {}, [], []
        for i, s in enumerate(scales):
            evals[s] = _sample(parts, method, s, clf, cfg.n_per_class, cfg.seed * 31 + 2 * i, cfg.num_steps)
            fx, fy = _sample(parts, method, s, clf, cfg.n_flow, cfg.seed * 31 + 2 * i + 1, cfg.num_steps)
            flow_x.append(fx)
            flow_y.append(fy)
        say(f"{method}: training the postprocessing UNet flow on all scales (top-{cfg.k} neighbours)")
        net = SmallUNet(reals.shape[1], parts.num_classes, cfg.flow_width).to(be.device)
        train_flow(net, torch.cat(flow_x), reals, FlowConfig(cfg.k, cfg.flow_train), torch.cat(flow_y), parts.real_labels)
        table[method], rows = {}, []
        for s, (x0, lab) in evals.items():
            after = postprocess(net, x0, lab, cfg.solver, cfg.euler_steps, batch=256).clamp(-1, 1)
            img_b, img_a = be.decode(x0), be.decode(after)
            fb, fa = parts.fid(img_b, parts.reference), parts.fid(img_a, parts.reference)
            table[method][scale_key(s)] = {"before": fb, "after": fa}
            rows += [img_b[:: cfg.n_per_class][:10], img_a[:: cfg.n_per_class][:10]]
        save_png(out / f"samples_{method}.png", grid(rows, scale=2),
                 {"rows": [f"{method} {scale_key(s)} {t}" for s in evals for t in ("before", "after")]})
        say(f"{method}: " + ", ".join(f"{k}: {v['before']:.3f} -> {v['after']:.3f}" for k, v in table[method].items()))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    details.update(seconds=seconds, cpu_seconds=cpu, table=table)
    atomic_write_text(out / "table.json", metrics_json(table, str(out / "table.json"), indent=2) + "\n")
    atomic_write_text(out / "details.json", metrics_json(details, str(out / "details.json"), indent=2, default=str) + "\n")
    files = [out / "samples_cfg.png", out / "samples_cg.png", out / "table.json", out / "details.json"]
    log.info("%s", format_table(table, "FMNIST-FID (lower is better)"))
    return LabResult(table, details, files, seconds, cpu, "FMNIST-FID (lower is better)")
