"""Vocabulary expansion at small scale (DOODL §5.2, Table 3): steer a zoo DDPM toward a fine class with a
classifier trained on clean images only, and judge the result with an independent evaluation classifier.

Two tasks. "super" (the paper's): the generator knows only superclasses (fashion-super-ddpm, zoo.superclass) and
is prompted with the target's superclass ("footwear"), as §5.2 prompts Stable Diffusion with "a bird"; the fine
classifier steers within it ("ankle boot"). "cross" (harder, not the paper's): the unconditional DDPM is steered
across categories from whatever each seed draws.

Three methods from the same seeded x_T: vanilla DDIM sampling, one-step classifier guidance (the loss gradient on
the one-step x0 estimate, §3.2.1) and DOODL (the gradient through the whole EDICT chain, Algorithm 1).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..backends.base import Backend
from ..optimizer import DoodlConfig, optimize, sample
from ..evaluation import frechet_distance
from ..zoo.fid import fmnist_features, target_accuracy

log = logging.getLogger(__name__)

METHODS = ("vanilla", "one_step", "doodl")


TASKS = ("super", "cross")


@dataclass(frozen=True)
class VocabConfig:
    """Settings of the experiment: EDICT p and T from the zoo family's chain table (doodl.optimizer.defaults,
    BENCHMARKS.md §5.1); clip and noise at the official FGVC demo's scale (clip 1e-2, std 1e-3); 20 updates with
    the pixel decoder's restoring clamp, chosen on tuning seeds 100-107 (BENCHMARKS.md §5.4)."""

    task: str = "super"  # "super" (the paper's §5.2) or "cross" (the unconditional model, across categories)
    steps: int = 20  # T for all three methods; p = 0.8 keeps the EDICT pair together at T = 20 (gap 0.03)
    mix: float = 0.8  # EDICT p on the zoo's linear-beta schedule (0.93 diverges below T ~ 50)
    opt_steps: int = 20  # DOODL updates m (paper: "typically 10 to 50"); the guidance loss is flat after ~15
    lr: float = 1.0  # DOODL lambda (paper §5.2: 0.05 on SD latents); with clip 1e-2 the steps are mostly clipped
    grad_clip: float = 1e-2  # element-wise clip (official FGVC demo 1e-2)
    perturb_std: float = 1e-3  # per-update kick of x_T (official FGVC demo 1e-3)
    range_pull: float = 1.0  # DOODL's decode: restoring gradient beyond [0, 1], chosen on seeds 100-107 (BENCHMARKS.md §5.4b)
    select: str = "last"  # returned iterate: "last" as Algorithm 1 (BENCHMARKS.md §5 compares "best")
    guidance_scale: float = 1.0  # task "super": CFG scale on the superclass prompt (1 = the plain conditional)
    one_step_scale: float = 0.5  # lambda of one-step guidance: tuned on seeds 100-107 over 0.5-10 (BENCHMARKS.md §5.4;
    #                               the paper's 5 for SD latents saturates these images at T = 20)
    batch_size: int = 16  # seeds optimised together
    shifts: int = 8  # DOODL's loss averages the classifier over this many random translations (multi-crop, §4)
    max_shift: int = 2  # pixels; the guidance classifier was trained with shifts of up to 2


@dataclass
class MethodResult:
    """Images of one method for one target class, and what they cost."""

    method: str
    images: Tensor  # (N, 1, 28, 28) in [0, 1]
    seconds: float
    loss: Tensor | None = None  # (N,) guidance loss of the returned images (DOODL only)
    history: list[float] = field(default_factory=list)  # DOODL: mean loss per update


@dataclass
class VocabResult:
    """All methods for one target: images and their metrics."""

    target: int
    seeds: list[int]
    methods: dict[str, MethodResult]
    metrics: dict[str, dict[str, float]]  # method -> {"target_accuracy", "fid", "seconds", "n"}


def shifted_copies(images: Tensor, n: int, max_shift: int, generator: torch.Generator) -> Tensor:
    """n randomly translated copies of each image (black fill), stacked copy-major: (n * B, C, H, W).

    The small-image counterpart of DOODL's multi-crop augmentation (§4): a loss averaged over shifts cannot be
    lowered by a pixel pattern that fools the classifier at one position only.
    """
    if n <= 1 or max_shift == 0:
        return images
    h, w = images.shape[-2:]
    padded = F.pad(images, (max_shift,) * 4)
    offs = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator).tolist()
    return torch.cat([padded[..., dy : dy + h, dx : dx + w] for dy, dx in offs])


def classifier_loss(classifier: nn.Module, target: int, shifts: int = 1, max_shift: int = 2,
                    seed: int = 0) -> Callable[[Tensor], Tensor]:
    """Cross-entropy toward `target` of a classifier on clean images in [0, 1], (B, 1, 28, 28) -> (B,) (§5.2),
    averaged over `shifts` random translations scored in one batch."""
    gen = torch.Generator().manual_seed(seed)

    def loss(images: Tensor) -> Tensor:
        b = images.shape[0]
        logits = classifier(shifted_copies(images, shifts, max_shift, gen))
        ce = F.cross_entropy(logits, torch.full((logits.shape[0],), target, device=logits.device), reduction="none")
        return ce.view(-1, b).mean(0)

    return loss


SATURATED = (0.02, 0.98)  # a pixel counts as saturated at or beyond these values of [0, 1]


def saturated_share(images: Tensor) -> float:
    """Share of non-black pixels that are at full white (>= 0.98) -- the "saturated silhouette" of a latent pushed
    to a sign pattern; compare with real images of the class (real footwear: BENCHMARKS.md §5)."""
    lit = images > SATURATED[0]
    return float((images >= SATURATED[1]).sum() / lit.sum().clamp(min=1))


def _chunks(seeds: Sequence[int], n: int) -> list[list[int]]:
    return [list(seeds[i : i + n]) for i in range(0, len(seeds), n)]


def run_method(method: str, backend: Backend, loss: Callable[[Tensor], Tensor], seeds: Sequence[int],
               cfg: VocabConfig, progress: Callable[[int], None] | None = None,
               conditioning: dict | None = None) -> MethodResult:
    """Run one method over the seeds (in batches of cfg.batch_size); progress(k) is called after k images;
    conditioning goes to the backend's denoiser (class_label, guidance_scale)."""
    cond = dict(conditioning or {})
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    start = time.perf_counter()
    images, losses, history = [], [], []
    for chunk in _chunks(seeds, cfg.batch_size):
        if method == "doodl":
            dc = DoodlConfig(lr=cfg.lr, grad_clip=cfg.grad_clip, perturb_std=cfg.perturb_std, mix=cfg.mix,
                             select=cfg.select, range_pull=cfg.range_pull)
            r = optimize(backend, loss, seed=chunk, num_inference_steps=cfg.steps, opt_steps=cfg.opt_steps,
                         config=dc, progress=False, **cond)
            images.append(r.images)
            losses.append(r.loss)
            history.append([h.mean_loss for h in r.history])
        else:
            r = sample(backend, seed=chunk, num_inference_steps=cfg.steps, method=method, loss=loss,
                       scale=cfg.one_step_scale, **cond)
            images.append(r.images)
        if progress is not None:
            progress(len(chunk))
    hist = [sum(col) / len(col) for col in zip(*history)] if history else []
    return MethodResult(method, torch.cat(images), time.perf_counter() - start,
                        torch.cat(losses) if losses else None, hist)


def run_vocab(backend: Backend, guide: nn.Module, eval_model: nn.Module, reference: Tensor | None, target: int,
              seeds: Sequence[int], cfg: VocabConfig | None = None, methods: Sequence[str] = METHODS,
              progress: Callable[[int], None] | None = None, superclass: int | None = None) -> VocabResult:
    """Vanilla, one-step guidance and DOODL toward `target` from the same seeds, scored by the evaluation classifier.

    Args:
        backend: the zoo DDPM: fashion-super-ddpm for task "super", the unconditional one for "cross".
        guide: the guidance classifier (trained on clean images only): the loss is its cross-entropy.
        eval_model: the independent evaluation classifier: target accuracy, and FMNIST-FID features.
        reference: real images of the target class (N, 1, 28, 28) for FMNIST-FID, or None to skip it.
        target: class index 0-9.
        seeds: one image per seed and method.
        superclass: task "super": the superclass id the generator is prompted with (it must hold `target`);
            None: the superclass of `target`. Ignored for task "cross".
    """
    cfg = cfg or VocabConfig()
    if not 0 <= target < 10:
        raise ValueError(f"target must be a class index in 0-9, got {target}")
    if cfg.task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {cfg.task!r}")
    cond: dict = {}
    if cfg.task == "super":
        from ..zoo.superclass import check_target_in_super, superclass_of

        _, s = check_target_in_super(target, superclass_of(target) if superclass is None else superclass)
        cond = {"class_label": s, "guidance_scale": cfg.guidance_scale}
    results, metrics = {}, {}
    ref_feats = fmnist_features(reference, eval_model) if reference is not None and len(seeds) >= 2 else None
    for m in methods:
        # one-step guidance gets the plain loss (the paper's baseline); DOODL the augmented one, as in §4
        loss = classifier_loss(guide, target, cfg.shifts if m == "doodl" else 1, cfg.max_shift)
        res = run_method(m, backend, loss, seeds, cfg, progress, cond)
        results[m] = res
        fid = frechet_distance(fmnist_features(res.images, eval_model), ref_feats) if ref_feats is not None else None
        metrics[m] = {"target_accuracy": target_accuracy(res.images, eval_model, target), "fid": fid,
                      "saturated": saturated_share(res.images), "seconds": round(res.seconds, 2), "n": len(seeds)}
        log.info("%s: %s", m, metrics[m])
    return VocabResult(target, list(seeds), results, metrics)
