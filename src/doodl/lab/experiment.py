"""The point lab end to end: train, guide (CG, CFG, DOODL), postprocess, measure, draw, write table.json.

Table metric (ours; the paper's Table 1 numbers for the fractal came without their definition): for each class,
the sliced Wasserstein-2 distance between generated points of that class and held-out real points of that
class, averaged over the classes (lower is better), beside improved precision and recall with k-NN balls
(Kynkäänniemi et al. 2019; lab.fidelity): the share of generated points on the real class support, and of real
points on the generated one (higher is better). The Fréchet distance on raw coordinates, the exact-Bayes accuracy
and the density-based on-support share are recorded beside them in details.json.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from ..evaluation.distances import per_class_distance, sliced_wasserstein
from ..evaluation.metrics import frechet_distance
from ..io.atomic import atomic_write_text, check_writable_dir
from ..io.jsontext import metrics_json
from ..schedules import make_alphas_cumprod
from .config import FlowPer, LabConfig, check_flow_per, scale_key
from .data import class_log_density, fractal2d, mixture1d
from .fidelity import DEFAULT_K, per_class_precision_recall
from .nets import NoiseAwareClassifier, PointMLP
from .postprocess import postprocess, train_flow
from .sampling import PointModels, Trajectories, sample_classes
from .train import accuracy, train_classifier, train_denoiser

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class LabResult:
    """What a lab run produced: the table (method -> scale -> before/after), details and the files written."""

    table: dict[str, dict[str, dict[str, float]]]
    details: dict
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0  # wall time
    cpu_seconds: float = 0.0  # process CPU time (all threads)
    metric: str = "per-class mean sliced Wasserstein-2 distance"  # what the table's numbers are (its first row)


@dataclass
class Trained:
    """The trained networks of one run."""

    models: PointModels
    clean: NoiseAwareClassifier  # DOODL's clean-data classifier (an MLP, t ignored)
    mlp_noisy: NoiseAwareClassifier | None  # 1-D only: the nonlinear noise-aware classifier (paper Fig. 2a)
    accuracies: dict[str, float]


def load_points(cfg: LabConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x, y) to train on and held-out (x, y) to evaluate against, from different seeds."""
    make = fractal2d if cfg.data == "fractal" else mixture1d
    x, y = make(cfg.n_train, cfg.seed)
    xe, ye = make(cfg.n_eval, cfg.seed + 10_000)
    return x, y, xe, ye


def train_all(cfg: LabConfig, x: Tensor, y: Tensor, ac: Tensor, progress: Progress) -> Trained:
    """Unconditional and conditional denoisers, the noise-aware classifier(s) and the clean classifier."""
    d = cfg.dim
    torch.manual_seed(cfg.seed)
    uncond = PointMLP(d, None, width=cfg.width, octaves=cfg.denoiser_octaves)
    cond = PointMLP(d, 2, width=cfg.width, octaves=cfg.denoiser_octaves)
    progress("training the unconditional denoiser")
    train_denoiser(uncond, x, None, ac, cfg.denoiser)
    progress("training the conditional denoiser (label dropout)")
    train_denoiser(cond, x, y, ac, cfg.denoiser)
    progress(f"training the noise-aware {cfg.classifier_kind} classifier")
    clf = NoiseAwareClassifier(d, 2, cfg.classifier_kind, width=cfg.width)
    train_classifier(clf, x, y, ac, cfg.classifier)
    mlp_noisy = None
    if d == 1:
        mlp_noisy = NoiseAwareClassifier(d, 2, "mlp", width=cfg.width)
        train_classifier(mlp_noisy, x, y, ac, cfg.classifier)
    progress("training the clean-data classifier (for DOODL)")
    clean = NoiseAwareClassifier(d, 2, "mlp", noise_aware=False, width=cfg.width)
    train_classifier(clean, x, y, None, cfg.clean_classifier)
    bayes = float((class_log_density(x, cfg.data).argmax(1) == y).double().mean())
    accs = {"bayes": bayes, "noise_aware_t0": accuracy(clf, x, y), "clean": accuracy(clean, x, y)}
    if mlp_noisy is not None:
        accs["noise_aware_mlp_t0"] = accuracy(mlp_noisy, x, y)
    return Trained(PointModels(uncond, cond, clf, ac), clean, mlp_noisy, accs)


def support_floor(real: Tensor, real_labels: Tensor, data: str) -> float:
    """The 1% quantile of real points' own-class log density: below it a point is off its class's support."""
    own = class_log_density(real, data).gather(1, real_labels[:, None]).squeeze(1)
    return float(torch.quantile(own, 0.01))


TABLE_METRICS = ("sw", "precision", "recall")  # what table.json holds per cell, before and after


def measure(points: Tensor, labels: Tensor, real: Tensor, real_labels: Tensor, data: str, seed: int,
            floor: float | None = None, k: int = DEFAULT_K) -> dict:
    """Distances to held-out real points of the same class (sliced Wasserstein with fixed directions, Fréchet),
    improved precision / recall with k-NN balls (per class, averaged), and, from the true generating mixture,
    the Bayes classifier's accuracy and 'on_support': the fraction of points whose own-class log density is above
    support_floor."""
    sw = per_class_distance(lambda a, b: sliced_wasserstein(a, b, 256, torch.Generator().manual_seed(seed)),
                            points, labels, real, real_labels)
    fd = per_class_distance(frechet_distance, points, labels, real, real_labels)
    pr = per_class_precision_recall(points, labels, real, real_labels, k)
    floor = support_floor(real, real_labels, data) if floor is None else floor
    ld = class_log_density(points, data)
    own = ld.gather(1, labels[:, None]).squeeze(1)
    return {"sw": sum(sw.values()) / len(sw), "sw_per_class": sw, "frechet": sum(fd.values()) / len(fd),
            "frechet_per_class": fd, "precision": sum(p.precision for p in pr.values()) / len(pr),
            "recall": sum(p.recall for p in pr.values()) / len(pr), "pr_k": k,
            "pr_per_class": {c: p.as_dict() for c, p in pr.items()},
            "bayes_accuracy": float((ld.argmax(1) == labels).double().mean()),
            "on_support": float((own > floor).double().mean())}


def flow_groups(scales: tuple[float, ...], flow_per: FlowPer) -> list[tuple[float, ...]]:
    """The scales each postprocessing flow trains on: one flow per scale (paper §4) or one for all (App. A)."""
    check_flow_per(flow_per)
    return [(s,) for s in scales] if flow_per == "scale" else [tuple(scales)]


def flow_samples_per_scale(n_flow: int, group: tuple[float, ...]) -> int:
    """Per class and scale: each flow trains on n_flow points per class in all, split evenly over its scales (the
    paper's App. A: the one-for-all model sees as much data as a per-scale one)."""
    return math.ceil(n_flow / len(group))


def run_method(cfg: LabConfig, tr: Trained, method: str, scales: tuple[float, ...], train: tuple[Tensor, Tensor],
               real: tuple[Tensor, Tensor], progress: Progress) -> tuple[dict, dict]:
    """Sample at every scale, train the postprocessing flow(s) (one per scale or one for all, cfg.flow_per),
    measure before and after.

    Returns ({scale_key: {"before": {sw, precision, recall}, "after": ...}}, {scale_key: details incl. the
    samples for figures, "_flow_final_loss": {flow: loss}}).
    """
    d, seed = cfg.dim, cfg.seed
    groups = flow_groups(scales, cfg.flow_per)
    n_per = flow_samples_per_scale(cfg.n_flow, groups[0])
    progress(f"{method}: sampling {len(scales)} scale(s)")
    flow_sets, evals = {}, {}
    for i, s in enumerate(scales):
        paths, lab = sample_classes(tr.models, method, s, cfg.n_eval, d, seed * 7 + 1000 * i + 1, cfg.num_steps)
        train_pts, train_lab = sample_classes(tr.models, method, s, n_per, d, seed * 7 + 1000 * i + 2, cfg.num_steps)
        flow_sets[s] = (train_pts.final, train_lab)
        evals[s] = (paths, lab)
    flows, losses = {}, {}
    for gi, group in enumerate(groups):
        name = scale_key(group[0]) if len(group) == 1 else "all"
        progress(f"{method}: training the postprocessing flow for scale(s) {', '.join(map(scale_key, group))} "
                 f"(top-{cfg.flow.k} neighbours, {cfg.flow.train.steps} steps)")
        torch.manual_seed(cfg.seed * 31 + gi)
        flow = PointMLP(d, 2, width=cfg.width, octaves=cfg.flow_octaves)
        gen = torch.cat([flow_sets[s][0] for s in group])
        gen_lab = torch.cat([flow_sets[s][1] for s in group])
        curve = train_flow(flow, gen, train[0], cfg.flow, gen_lab, train[1])  # neighbours among the training reals
        losses[name] = sum(curve[-50:]) / len(curve[-50:])
        flows.update({s: flow for s in group})
    table, details = {}, {}
    floor = support_floor(real[0], real[1], cfg.data)
    for s, (paths, lab) in evals.items():
        before = paths.final
        after = postprocess(flows[s], before, lab, cfg.solver, cfg.euler_steps)
        mb = measure(before, lab, real[0], real[1], cfg.data, seed, floor, cfg.pr_k)
        ma = measure(after, lab, real[0], real[1], cfg.data, seed, floor, cfg.pr_k)
        table[scale_key(s)] = {tag: {m: v[m] for m in TABLE_METRICS} for tag, v in (("before", mb), ("after", ma))}
        details[scale_key(s)] = {"before": mb, "after": ma, "paths": paths, "labels": lab, "post": after}
    details["_flow_final_loss"] = losses
    return table, details


def run_doodl(cfg: LabConfig, tr: Trained) -> dict | None:
    """DOODL with the clean classifier, on the unconditional denoiser, doodl_points seeds per class."""
    if cfg.doodl_points == 0:
        return None
    from .doodl_points import POINT_DOODL, VectorBackend, run_doodl_points

    backend = VectorBackend(tr.models.uncond, tr.models.alphas_cumprod, cfg.dim)
    # In 1-D the norm constraint leaves x_T two values, +-|x_T|: renormalise only in 2-D and up.
    config = replace(POINT_DOODL, renormalize=cfg.dim > 1)
    runs = [run_doodl_points(backend, tr.clean, c, [cfg.seed * 100_003 + c * 50_000 + i for i in range(cfg.doodl_points)],
                             cfg.doodl_num_steps, cfg.doodl_opt_steps, config) for c in (0, 1)]
    path = torch.cat([r.paths.path for r in runs], dim=1)
    gap_list = [r.result.pair_gap for r in runs if r.result.pair_gap is not None]
    gaps = torch.cat(gap_list) if gap_list else torch.zeros(0)
    lab = torch.arange(2).repeat_interleave(cfg.doodl_points)
    return {"paths": Trajectories(path, runs[0].paths.timesteps), "labels": lab,
            "initial": torch.cat([r.initial for r in runs]),
            "loss_first": sum(r.result.history[0].mean_loss for r in runs) / 2,
            "loss_last": sum(r.result.history[-1].mean_loss for r in runs) / 2,
            "chain": {"mix": config.mix, "steps": cfg.doodl_num_steps,  # EDICT's x-y gap of the initial draws
                      "pair_gap_mean": float(gaps.mean()) if gaps.numel() else None,
                      "pair_gap_max": float(gaps.max()) if gaps.numel() else None}}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items() if not isinstance(v, (Tensor, Trajectories))}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


_METRIC_NAMES = {"sw": "SW", "precision": "precision", "recall": "recall"}


def format_table(table: dict[str, dict[str, dict]], metric: str = "per-class mean distance") -> str:
    """The table as text: a row per method, metric and before/after, a column per scale (like the paper's Tables
    1-2). Cells are {"before": x, "after": x} with x a number (the distance) or a dict of metrics."""
    lines = [metric]
    for method, row in table.items():
        keys = list(row)
        lines.append(f"{method.upper():>10} scale      " + " ".join(f"{k:>8}" for k in keys))
        first = row[keys[0]]["before"] if keys else 0.0
        names = list(first) if isinstance(first, dict) else [None]
        for name in names:
            for tag in ("before", "after"):
                label = tag if name is None else f"{_METRIC_NAMES.get(name, name)} {tag}"
                vals = [row[k][tag] if name is None else row[k][tag][name] for k in keys]
                lines.append(f"{label:>21} " + " ".join(f"{v:8.4f}" for v in vals))
    return "\n".join(lines)


def run_point_lab(cfg: LabConfig, out: str | Path, progress: Progress | None = None) -> LabResult:
    """The whole point-data lab (paper §3 and §4.1 on our data); writes figures, table.json and details.json."""
    say = progress or (lambda m: log.info(m))
    out = check_writable_dir(out)
    t0, c0 = time.perf_counter(), time.process_time()
    ac = make_alphas_cumprod("linear")
    x, y, xe, ye = load_points(cfg)
    tr = train_all(cfg, x, y, ac, say)
    table: dict[str, dict[str, dict[str, float]]] = {}
    details: dict = {"config": asdict(cfg), "accuracies": tr.accuracies}
    for method, scales in (("cfg", cfg.cfg_scales), ("cg", cfg.cg_scales)):
        table[method], details[method] = run_method(cfg, tr, method, scales, (x, y), (xe, ye), say)
    say("DOODL with the clean classifier")
    doodl = run_doodl(cfg, tr)
    if doodl is not None:
        details["doodl"] = {"final": measure(doodl["paths"].final, doodl["labels"], xe, ye, cfg.data, cfg.seed,
                                             k=cfg.pr_k),
                            "initial": measure(doodl["initial"], doodl["labels"], xe, ye, cfg.data, cfg.seed, k=cfg.pr_k),
                            "loss_first": doodl["loss_first"], "loss_last": doodl["loss_last"], "chain": doodl["chain"]}
    say("drawing figures")
    from .figures import point_figures

    files = point_figures(cfg, out, tr, details, doodl, (x, y))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    details["seconds"], details["cpu_seconds"] = seconds, cpu
    atomic_write_text(out / "table.json", metrics_json(table, str(out / "table.json"), indent=2) + "\n")
    atomic_write_text(out / "details.json", metrics_json(_jsonable(details), str(out / "details.json"), indent=2,
                                                         default=str) + "\n")
    files += [out / "table.json", out / "details.json"]
    return LabResult(table, details, files, seconds, cpu, point_metric(cfg))


def point_metric(cfg: LabConfig) -> str:
    """The heading of the point lab's table: its metrics and how the flows were trained."""
    flows = "one flow per scale" if cfg.flow_per == "scale" else "one flow per method for all scales (App. A)"
    return (f"per-class mean sliced Wasserstein-2 (SW, lower is better); precision / recall: k-NN support, "
            f"k = {cfg.pr_k} (higher is better); {flows}, {cfg.flow.train.steps} steps, {cfg.solver}")
