"""Vocabulary expansion at small scale (DOODL §5.2, Table 3): steer the unconditional zoo DDPM toward a class with
a classifier trained on clean images only, and judge the result with an independent evaluation classifier.

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


@dataclass(frozen=True)
class VocabConfig:
    """Settings of the experiment. lr, grad_clip and opt_steps were tuned on seeds 100-103 (never the reported
    0-7) for classes 9 and 6 at T = 50 (benchmarks/vocab_sweep.py; BENCHMARKS.md §5): after 10 updates DOODL's
    target accuracy was 0.50 with (lr 0.3, clip 0.015), 0.62 with (1.0, 0.05), 0.62 with (3.0, 0.1) at the lowest
    FMNIST-FID, and 0.50 with Adam (lr 0.05); (10, 0.3) fooled the guidance classifier but not the evaluation one."""

    steps: int = 50  # T for all three methods (paper: 50); EDICT diverges on this pixel model at T <= 20
    opt_steps: int = 12  # DOODL updates m (paper: "typically 10 to 50"); 12 keeps the CPU demo near 3 minutes
    lr: float = 3.0  # DOODL lambda (paper §5.2: 0.05 on SD latents); tuned, see the class docstring
    grad_clip: float = 0.1  # element-wise clip (paper 1e-3 on SD latents; 32x32 pixels need larger moves), tuned
    perturb_std: float = 1e-2  # Algorithm 1's N(0, 1e-4 I) kick per update
    one_step_scale: float = 5.0  # lambda of one-step guidance for classifiers (DOODL §5.2)
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


def _chunks(seeds: Sequence[int], n: int) -> list[list[int]]:
    return [list(seeds[i : i + n]) for i in range(0, len(seeds), n)]


def run_method(method: str, backend: Backend, loss: Callable[[Tensor], Tensor], seeds: Sequence[int],
               cfg: VocabConfig, progress: Callable[[int], None] | None = None) -> MethodResult:
    """Run one method over the seeds (in batches of cfg.batch_size); progress(k) is called after k images."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    start = time.perf_counter()
    images, losses, history = [], [], []
    for chunk in _chunks(seeds, cfg.batch_size):
        if method == "doodl":
            dc = DoodlConfig(lr=cfg.lr, grad_clip=cfg.grad_clip, perturb_std=cfg.perturb_std)
            r = optimize(backend, loss, seed=chunk, num_inference_steps=cfg.steps, opt_steps=cfg.opt_steps,
                         config=dc, progress=False)
            images.append(r.images)
            losses.append(r.loss)
            history.append([h.mean_loss for h in r.history])
        else:
            r = sample(backend, seed=chunk, num_inference_steps=cfg.steps, method=method, loss=loss,
                       scale=cfg.one_step_scale)
            images.append(r.images)
        if progress is not None:
            progress(len(chunk))
    hist = [sum(col) / len(col) for col in zip(*history)] if history else []
    return MethodResult(method, torch.cat(images), time.perf_counter() - start,
                        torch.cat(losses) if losses else None, hist)


def run_vocab(backend: Backend, guide: nn.Module, eval_model: nn.Module, reference: Tensor | None, target: int,
              seeds: Sequence[int], cfg: VocabConfig | None = None, methods: Sequence[str] = METHODS,
              progress: Callable[[int], None] | None = None) -> VocabResult:
    """Vanilla, one-step guidance and DOODL toward `target` from the same seeds, scored by the evaluation classifier.

    Args:
        backend: the unconditional zoo DDPM (doodl.load_backend("fashion")).
        guide: the guidance classifier (trained on clean images only): the loss is its cross-entropy.
        eval_model: the independent evaluation classifier: target accuracy, and FMNIST-FID features.
        reference: real images of the target class (N, 1, 28, 28) for FMNIST-FID, or None to skip it.
        target: class index 0-9.
        seeds: one image per seed and method.
    """
    cfg = cfg or VocabConfig()
    if not 0 <= target < 10:
        raise ValueError(f"target must be a class index in 0-9, got {target}")
    results, metrics = {}, {}
    ref_feats = fmnist_features(reference, eval_model) if reference is not None and len(seeds) >= 2 else None
    for m in methods:
        # one-step guidance gets the plain loss (the paper's baseline); DOODL the augmented one, as in §4
        loss = classifier_loss(guide, target, cfg.shifts if m == "doodl" else 1, cfg.max_shift)
        res = run_method(m, backend, loss, seeds, cfg, progress)
        results[m] = res
        fid = frechet_distance(fmnist_features(res.images, eval_model), ref_feats) if ref_feats is not None else None
        metrics[m] = {"target_accuracy": target_accuracy(res.images, eval_model, target), "fid": fid,
                      "seconds": round(res.seconds, 2), "n": len(seeds)}
        log.info("%s: %s", m, metrics[m])
    return VocabResult(target, list(seeds), results, metrics)
