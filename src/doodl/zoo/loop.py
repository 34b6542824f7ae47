"""Pieces the zoo trainers share: device and data set-up, seeded batch order, the LR schedule, EMA and the
logged, time-budgeted step loop."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from torch import Tensor, nn

from ..data.fashion_mnist import find_root, load_fashion_mnist
from .config import ClassifierConfig, DDPMConfig

logger = logging.getLogger(__name__)

Data = tuple[Tensor, Tensor]  # uint8 images (N, 28, 28), int64 labels (N,)


def resolve_device(device: str) -> torch.device:
    """torch.device for 'cpu' / 'cuda[:i]'; ValueError when CUDA is asked for but absent."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device} requested but torch.cuda.is_available() is False")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    return dev


def check_data(data: Data, name: str = "data") -> Data:
    """Validate (uint8 images (N, 28, 28), labels (N,) in 0..9); ValueError naming `name` otherwise."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(f"{name} must be a tuple (images, labels)")
    images, labels = data
    if images.dtype != torch.uint8 or images.ndim != 3 or tuple(images.shape[1:]) != (28, 28):
        raise ValueError(f"{name} images must be uint8 (N, 28, 28), got {images.dtype} {tuple(images.shape)}")
    if labels.ndim != 1 or labels.numel() != images.shape[0] or labels.is_floating_point():
        raise ValueError(f"{name} labels must be integers (N,) matching the images, got {tuple(labels.shape)}")
    if images.shape[0] < 1 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{name} must hold at least one image and labels in 0..9")
    return images, labels.long()


def training_data(cfg: DDPMConfig | ClassifierConfig, data: Data | None) -> tuple[Data, str]:
    """The training set (given, or Fashion-MNIST's train split) cut to cfg.train_limit, and a description."""
    if data is None:
        data = load_fashion_mnist("train", root=cfg.data_dir)
        source = f"Fashion-MNIST train split ({find_root(cfg.data_dir)})"
    else:
        source = "tensors given to the trainer"
    images, labels = check_data(data)
    if cfg.train_limit is not None:
        images, labels = images[: cfg.train_limit], labels[: cfg.train_limit]
    return (images, labels), f"{source}, {images.shape[0]} images"


def held_out_data(cfg: DDPMConfig | ClassifierConfig, data: Data | None, test_data: Data | None) -> Data | None:
    """The test set: given, else Fashion-MNIST's test split when the training data came from it too."""
    if test_data is not None:
        return check_data(test_data, "test_data")
    if data is None:
        return load_fashion_mnist("test", root=cfg.data_dir)
    return None


def batch_indices(n: int, batch_size: int, generator: torch.Generator, device: torch.device) -> Iterator[Tensor]:
    """Endless index batches from seeded per-epoch permutations (epochs concatenate when batch_size > n)."""
    buf = torch.empty(0, dtype=torch.long, device=device)
    while True:
        while buf.numel() < batch_size:
            buf = torch.cat([buf, torch.randperm(n, generator=generator, device=device)])
        yield buf[:batch_size]
        buf = buf[batch_size:]


def lr_factor(step: int, total: int, warmup: int, final_frac: float) -> float:
    """Linear warmup to 1, then cosine decay to final_frac at `total` (SGDR, Loshchilov & Hutter 2017, no restarts)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    """ema <- d ema + (1 - d) model with d = min(decay, (1 + step) / (10 + step)) (TensorFlow's EMA num_updates warmup)."""
    d = min(decay, (1 + step) / (10 + step))
    torch._foreach_lerp_(list(ema.parameters()), [p.detach() for p in model.parameters()], 1 - d)  # one kernel per group
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Translate each image of (B, C, H, W) by its own integer offset in [-max_shift, max_shift], filling with 0."""
    if max_shift == 0:
        return x
    b, _, h, w = x.shape
    s = max_shift
    padded = torch.nn.functional.pad(x, (s, s, s, s))
    dy, dx = (torch.randint(0, 2 * s + 1, (2, b), generator=generator, device=x.device))
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
    bidx = torch.arange(b, device=x.device)[:, None, None, None]
    cidx = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[bidx, cidx, rows, cols]


def random_hflip(x: Tensor, generator: torch.Generator) -> Tensor:
    """Mirror a random half of the batch left-right."""
    flip = torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


@dataclass
class LoopResult:
    """What the step loop measured."""

    steps: int
    seconds: float
    stopped_early: bool
    final_loss: float
    losses: list[tuple[int, float]] = field(default_factory=list)


def run_steps(cfg: DDPMConfig | ClassifierConfig, step_fn: Callable[[int], Tensor],
              optimizer: torch.optim.Optimizer) -> LoopResult:
    """Call step_fn(step) -> detached loss for cfg.steps steps (or until cfg.max_minutes), setting the LR first
    and logging the mean loss every cfg.log_every steps."""
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    start = time.perf_counter()
    budget = None if cfg.max_minutes is None else cfg.max_minutes * 60
    window, count, losses = None, 0, []
    step, stopped = 0, False
    last = float("nan")
    while step < cfg.steps:
        f = lr_factor(step, cfg.steps, cfg.warmup_steps, cfg.final_lr_frac)
        for g, lr in zip(optimizer.param_groups, base_lrs):
            g["lr"] = lr * f
        loss = step_fn(step)
        window = loss if window is None else window + loss
        count += 1
        step += 1
        elapsed = time.perf_counter() - start
        stopped = budget is not None and elapsed >= budget and step < cfg.steps
        if step % cfg.log_every == 0 or step == cfg.steps or stopped:
            last = float(window) / count  # type: ignore[arg-type]
            if not math.isfinite(last):
                raise RuntimeError(f"{cfg.name}: training loss became {last} at step {step}; try a lower --lr")
            losses.append((step, last))
            rate = step / max(elapsed, 1e-9)
            logger.info("%s step %d/%d loss %.4f lr %.2e %.1f it/s %.0fs elapsed, ~%.0fs left", cfg.name, step,
                        cfg.steps, last, base_lrs[0] * f, rate, elapsed, (cfg.steps - step) / max(rate, 1e-9))
            window, count = None, 0
        if stopped:
            logger.warning("%s: --max-minutes %.3g reached after %d of %d steps; saving what we have",
                           cfg.name, cfg.max_minutes, step, cfg.steps)
            break
    return LoopResult(step, time.perf_counter() - start, stopped, last, losses)
