"""DOODL: optimise the initial noise against a loss on the final image, through the whole EDICT chain.

Algorithm 1 of "End-to-End Diffusion Latent Optimization Improves Classifier Guidance" (Wallace et al. 2023).
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..backends.base import Backend
from ..conditioning import Conditioning
from ..samplers.chain import edict_sample
from ..schedules.steps import Step
from ..scorers.base import check_grad_path
from .checks import check_init
from .config import DoodlConfig, coupling_dtype_for
from .resolve import check_chain, resolve_settings
from .selection import Selector
from .result import DoodlResult, StepRecord
from .seeds import as_seed_list, initial_latents, per_seed_noise, perturbation_generators
from .typical import clamp_block_means

log = logging.getLogger(__name__)

Loss = Callable[[Tensor], Tensor]
StepCallback = Callable[[dict], None]


def evaluate_loss(loss: Loss, images: Tensor) -> Tensor:
    """Call a scorer and check it returns one value per image; non-finite values are left to the caller."""
    out = loss(images)
    if not isinstance(out, Tensor) or out.shape != (images.shape[0],):
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"loss must return a tensor of shape ({images.shape[0]},) (one value per image), got {shape}")
    return check_grad_path(out, images, "the loss")


def _norm(x: Tensor) -> Tensor:
    return x.flatten(1).norm(dim=1).reshape(-1, *([1] * (x.ndim - 1)))


def optimize(
    backend: Backend,
    loss: Loss,
    *,
    seed: int | Sequence[int] = 0,
    num_inference_steps: int | None = None,
    opt_steps: int | None = None,
    config: DoodlConfig | None = None,
    init: tuple[Tensor, Tensor] | None = None,
    steps: Sequence[Step] | None = None,
    callback: StepCallback | None = None,
    progress: bool = True,
    **options,
) -> DoodlResult:
    """DOODL (Algorithm 1): momentum descent on x_T with gradients through the full EDICT chain.

    Args:
        backend: the diffusion model (doodl.load_backend).
        loss: images in [0, 1], (B, C, H, W) -> (B,); the loss of the chain's two outputs is averaged.
        seed: one seed or a list; all seeds are optimised together as one batch.
        num_inference_steps: T, the EDICT steps; None: the backend family's default (doodl.optimizer.defaults).
        opt_steps: m, the number of updates (paper: 10 to 50); None: the family's default.
        config: DoodlConfig, used as given; without it, its fields may be given as keyword options (lr=...,
            momentum=...) and the ones not given come from the backend family's defaults (mix, lr, clip, noise).
        init: a latent pair (x_T, y_T) to start from instead of noise (real-image editing, doodl.invert_image).
        steps: the chain's steps when starting part-way (editing with invert_to: InvertedImage.steps);
            default backend.steps(num_inference_steps).
        callback: called after each evaluation with {"step", "loss", "images", "latents"}.
        progress: show a progress bar.
        **options: DoodlConfig fields, then Conditioning fields for backend.denoiser (prompt, class_label, ...);
            one the backend cannot use is a ValueError naming it.
    """
    cfg, conditioning, num_inference_steps, opt_steps = resolve_settings(backend, config, options, num_inference_steps,
                                                                         opt_steps)
    if not isinstance(opt_steps, int) or isinstance(opt_steps, bool) or opt_steps < 0:
        raise ValueError(f"opt_steps must be a non-negative int, got {opt_steps!r}")
    seeds = as_seed_list(seed)
    model = backend.denoiser(Conditioning.from_kwargs(**conditioning))
    chain = list(steps) if steps is not None else backend.steps(num_inference_steps)
    dtype = coupling_dtype_for(backend.device, cfg.coupling_dtype)  # float64 by default: exact coupling
    # The decoder and the loss see float32 latents (float64 with a float64 network), whatever the coupling dtype.
    image_dtype = torch.float64 if backend.dtype == torch.float64 else torch.float32

    if init is None:
        x = initial_latents(backend, seeds, dtype)
        y = x.clone()
    else:
        x, y = (t.detach().to(backend.device, dtype) for t in check_init(backend, init, len(seeds)))
    tie = cfg.tie and init is None
    norms = [_norm(x), _norm(y)]
    gens = perturbation_generators(seeds)
    B = x.shape[0]
    lr = torch.full((B,), float(cfg.lr), device=x.device, dtype=dtype)
    vel = [torch.zeros_like(x), torch.zeros_like(y)]  # momentum (or Adam's first moment) per chain
    adam_v = [torch.zeros_like(x), torch.zeros_like(y)]  # Adam's second moment per chain
    chosen = Selector(cfg.select)
    initial_images = gap = None
    history: list[StepRecord] = []
    start = time.perf_counter()

    bar = tqdm(range(opt_steps + 1), desc="doodl", disable=not progress, leave=False)
    for i in bar:
        needs_grad = i < opt_steps
        xl = x.detach().requires_grad_(needs_grad)
        yl = xl if tie else y.detach().requires_grad_(needs_grad)
        with torch.set_grad_enabled(needs_grad):
            mode = cfg.grad_mode if needs_grad else "none"
            x0, y0 = edict_sample(model, xl, yl, chain, cfg.mix, mode, leapfrog=cfg.leapfrog, model_dtype=backend.dtype)
            img_x, img_y = decode(backend, x0.to(image_dtype), cfg.range_pull), decode(backend, y0.to(image_dtype), cfg.range_pull)
            per_image = 0.5 * (evaluate_loss(loss, img_x) + evaluate_loss(loss, img_y))  # Alg. 1: L = (c(x0) + c(y0)) / 2
        finite = per_image.detach().isfinite()
        if needs_grad:
            leaves = (xl,) if tie else (xl, yl)
            safe = torch.where(finite, per_image, torch.zeros_like(per_image))
            grads = torch.autograd.grad(safe.sum(), leaves, allow_unused=True)
            grads = [torch.zeros_like(xl) if g is None else g for g in grads]
            ok = finite & torch.stack([g.flatten(1).isfinite().all(dim=1) for g in grads]).all(dim=0)
        else:
            ok = finite
        cur = per_image.detach().to(torch.float64)
        imgs = img_x.detach()
        if initial_images is None:
            initial_images, gap = imgs.clone(), check_chain(x0, y0, cfg.mix, len(chain))  # the pair is already here
        chosen.offer(imgs, x.detach(), cur, ok, i, y.detach())  # cfg.select: the last iterate (paper), best loss, or a scorer
        history.append(StepRecord(i, cur.cpu(), (~ok).cpu(), lr.detach().cpu().clone(), time.perf_counter() - start))
        if callback is not None:
            callback({"step": i, "loss": cur, "images": imgs, "latents": x.detach()})
        if progress:
            bar.set_postfix(loss=f"{history[-1].mean_loss:.4f}")
        if not needs_grad:
            break
        if cfg.target_loss is not None and bool((chosen.loss <= cfg.target_loss).all()):
            log.info("target loss %.4g reached at step %d", cfg.target_loss, i)
            break
        if not bool(ok.all()):
            log.warning("non-finite loss or gradient for %d image(s) at step %d: update skipped, lr lowered", int((~ok).sum()), i)
        lr = torch.where(ok, lr, lr * cfg.nonfinite_lr_factor)
        # Update each latent of the pair (one when tied): Alg. 1 / eq. 8.
        keep = ok.reshape(-1, *([1] * (x.ndim - 1)))
        lats = [x] if tie else [x, y]
        for j, g in enumerate(grads):
            step, vel[j] = _update(cfg, g, vel[j], adam_v[j], lr, i)
            nxt = lats[j].detach() + torch.where(keep, step + per_seed_noise(gens, g) * cfg.perturb_std, 0.0)
            if cfg.typical_clamp is not None:
                nxt = clamp_block_means(nxt, cfg.typical_clamp)
            if cfg.renormalize:  # back onto the Gaussian shell of the initial draw (§4)
                nxt = nxt * (norms[j] / _norm(nxt))
            lats[j] = nxt
        x, y = lats[0], lats[-1]
    bar.close()
    assert chosen.images is not None and chosen.loss is not None and initial_images is not None
    return DoodlResult(chosen.images, chosen.latents, chosen.loss.cpu(), initial_images, history, seeds,
                       time.perf_counter() - start, chosen.step, chosen.latents_y, list(chain), dtype, gap)


def decode(backend: Backend, latents: Tensor, range_pull: float) -> Tensor:
    """backend.decode, with the restoring clamp's pull when it is on (a plain call otherwise, so a user's backend
    whose decode takes no range_pull keeps working with the paper's clamp)."""
    return backend.decode(latents, range_pull=range_pull) if range_pull else backend.decode(latents)


def _update(cfg: DoodlConfig, grad: Tensor, vel: Tensor, v: Tensor, lr: Tensor, i: int) -> tuple[Tensor, Tensor]:
    """The latent update from the gradient: clipped momentum (paper eq. 8) or Adam (ours)."""
    lr = lr.reshape(-1, *([1] * (grad.ndim - 1)))
    if cfg.optimizer == "momentum":
        g = (-lr * grad).clamp(-cfg.grad_clip, cfg.grad_clip)  # g_i = Clip(-lambda grad, -1e-3, 1e-3)
        vel = cfg.momentum * vel + g  # g_i = 0.9 g_{i-1} + g_i
        return vel, vel
    b1, b2 = cfg.adam_betas
    vel = b1 * vel + (1 - b1) * grad
    v.mul_(b2).add_((1 - b2) * grad * grad)
    mhat, vhat = vel / (1 - b1 ** (i + 1)), v / (1 - b2 ** (i + 1))
    return -lr * mhat / (vhat.sqrt() + 1e-8), vel  # with Adam, lr is the step size per element
