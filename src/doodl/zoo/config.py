"""Training configurations of the zoo (one frozen dataclass per trainer) and the result of a training run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

DDPM_NAMES = ("fashion-ddpm", "fashion-cond-ddpm", "fashion-super-ddpm")
CLASSIFIER_NAMES = ("fashion-guide", "fashion-eval")
NAMES = CLASSIFIER_NAMES + DDPM_NAMES  # training order for `--model all`: the DDPM cards can then use fashion-eval


@dataclass(frozen=True)
class DDPMConfig:
    """How to train a pixel DDPM on Fashion-MNIST padded to 32x32 (Ho et al. 2020, Algorithm 1)."""

    name: str = "fashion-ddpm"  # the zoo name; the weights land in out_dir/<name>.safetensors
    conditional: bool = False  # class-conditional UNet (num_class_embeds = 11) trained with label dropout
    labels: Literal["fine", "super"] = "fine"  # conditional only: the 10 classes, or the 4 superclasses (zoo.superclass)
    init_from: str | None = None  # a zoo DDPM to start from (its UNet weights; a new class embedding starts at zero)
    steps: int = 6000  # optimiser steps; ~13 epochs at batch 128 (our choice for a small UNet on 60k images)
    batch_size: int = 128  # DDPM used 128 on CIFAR-10; raise it on a GPU (see the zoo README's commands)
    lr: float = 4e-4  # AdamW peak LR; DDPM's 2e-4 doubled for a 1.8M-parameter UNet (our measurement)
    weight_decay: float = 0.0  # DDPM used none
    warmup_steps: int = 200  # linear warmup (DDPM warms up over 5000 steps at a lower LR and 800k steps)
    final_lr_frac: float = 0.1  # cosine decay down to this fraction of lr at the last planned step
    grad_clip: float = 1.0  # DDPM's gradient-norm clip
    ema_decay: float = 0.999  # EMA of weights (DDPM used 0.9999 over 800k steps; ours are far fewer); the EMA is saved
    label_dropout: float = 0.1  # conditional only: P(label -> null label 10), the CFG recipe (Ho & Salimans 2022, §3.2)
    hflip: bool = False  # no flips: Fashion-MNIST's shoes all face left, a flip makes images the test set never shows
    num_train_timesteps: int = 1000  # DDPM's T
    schedule: Literal["linear"] = "linear"  # DDPM's betas 1e-4..0.02 (doodl.schedules.make_alphas_cumprod)
    pad: int = 2  # 28 -> 32 with -1 (black), so the UNet halves cleanly three times
    seed: int = 0  # seeds the init, the data order, t, the noise and the label dropout
    device: str = "cpu"  # "cpu" or "cuda"
    amp: bool = False  # bf16 autocast on CUDA (ignored on CPU)
    log_every: int = 100  # a progress line every N steps
    max_minutes: float | None = None  # stop early (and still save) when this wall-clock budget is spent
    train_limit: int | None = None  # use only the first N training images (quick CPU runs)
    data_dir: str | None = None  # folder of the IDX files; None: $DOODL_FASHION_MNIST or Debian's folder
    save_dtype: Literal["float16", "float32"] = "float16"  # fp16 halves the file (3.6 MB) and the zoo's 15 MB budget
    grid_seeds: int = 8  # images per row of the sample grid saved beside the weights (0: no grid)
    grid_steps: int = 50  # DDIM steps for the sample grid and the sample metrics
    sample_eval: int = 0  # >0: FMNIST-FID (and class accuracy) of this many samples, needs fashion-eval in out_dir
    unet_config: dict[str, Any] | None = field(default=None, hash=False)  # None: models.UNET_CONFIG; tests pass tiny ones

    def validate(self) -> "DDPMConfig":
        """Raise ValueError naming the first bad field; return self."""
        _check_common(self)
        if not 0 <= self.label_dropout < 1:
            raise ValueError(f"label_dropout must lie in [0, 1), got {self.label_dropout}")
        if self.labels not in ("fine", "super") or (self.labels == "super" and not self.conditional):
            raise ValueError(f"labels must be 'fine' or 'super' (super needs conditional=True), got {self.labels!r}")
        if self.init_from is not None and self.init_from not in DDPM_NAMES:
            raise ValueError(f"init_from must be a zoo DDPM ({', '.join(DDPM_NAMES)}) or None, got {self.init_from!r}")
        if not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must lie in (0, 1), got {self.ema_decay}")
        if self.grid_seeds < 0 or self.grid_steps < 1 or self.sample_eval < 0:
            raise ValueError("grid_seeds and sample_eval must be >= 0 and grid_steps >= 1")
        return self


@dataclass(frozen=True)
class ClassifierConfig:
    """How to train a Fashion-MNIST classifier on clean images in [0, 1] (the guidance or the evaluation network)."""

    name: str = "fashion-guide"  # "fashion-guide" (GuidanceCNN) or "fashion-eval" (EvalCNN)
    arch: Literal["guidance", "eval"] = "guidance"  # which architecture of zoo.models
    width: int | None = None  # None: the architecture's default width
    steps: int = 3000  # ~13 epochs at batch 256: both CNNs pass 90% test accuracy well before (our measurement)
    batch_size: int = 256  # small images, small nets: larger batches only help GPU throughput
    lr: float = 2e-3  # AdamW peak LR for small CNNs (our choice)
    weight_decay: float = 0.05  # mild regularisation beside dropout / BatchNorm
    warmup_steps: int = 100  # linear warmup
    final_lr_frac: float = 0.02  # cosine decay nearly to zero
    grad_clip: float = 1.0
    max_shift: int = 2  # light augmentation: random translation by up to 2 pixels, black fill
    hflip: bool = False  # as for the DDPMs: shoes face left in Fashion-MNIST
    seed: int = 0  # the evaluation classifier uses another seed (1) so the two networks differ in init and data order
    device: str = "cpu"
    amp: bool = False  # bf16 autocast on CUDA
    log_every: int = 100
    max_minutes: float | None = None
    train_limit: int | None = None
    data_dir: str | None = None
    save_dtype: Literal["float16", "float32"] = "float32"  # classifiers stay exact: they define the reported accuracy

    def validate(self) -> "ClassifierConfig":
        """Raise ValueError naming the first bad field; return self."""
        _check_common(self)
        if self.arch not in ("guidance", "eval"):
            raise ValueError(f"arch must be 'guidance' or 'eval', got {self.arch!r}")
        if self.max_shift < 0 or (self.width is not None and self.width < 1):
            raise ValueError("max_shift must be >= 0 and width >= 1")
        return self


def _check_common(cfg: DDPMConfig | ClassifierConfig) -> None:
    for key in ("steps", "batch_size", "log_every"):
        v = getattr(cfg, key)
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{key} must be a positive int, got {v!r}")
    if not cfg.lr > 0 or cfg.weight_decay < 0 or cfg.warmup_steps < 0 or not 0 <= cfg.final_lr_frac <= 1:
        raise ValueError("lr must be > 0, weight_decay and warmup_steps >= 0, final_lr_frac in [0, 1]")
    if cfg.device not in ("cpu", "cuda") and not cfg.device.startswith("cuda:"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {cfg.device!r}")
    if cfg.max_minutes is not None and not cfg.max_minutes > 0:
        raise ValueError(f"max_minutes must be > 0, got {cfg.max_minutes}")
    if cfg.train_limit is not None and cfg.train_limit < 1:
        raise ValueError(f"train_limit must be >= 1, got {cfg.train_limit}")
    if cfg.save_dtype not in ("float16", "float32"):
        raise ValueError(f"save_dtype must be 'float16' or 'float32', got {cfg.save_dtype!r}")


def default_config(name: str, **overrides: Any) -> DDPMConfig | ClassifierConfig:
    """The zoo's default training config for a model name, with fields overridden (None values are ignored)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    base: DDPMConfig | ClassifierConfig
    if name == "fashion-ddpm":
        base = DDPMConfig(name=name, conditional=False)
    elif name == "fashion-cond-ddpm":
        base = DDPMConfig(name=name, conditional=True, seed=2)
    elif name == "fashion-super-ddpm":  # superclass labels only; fine-tuned from the 10-class DDPM to fit a CPU budget
        # (from the unconditional one with a zeroed embedding, 570 CPU steps left it ~unconditional: BENCHMARKS.md §5)
        base = DDPMConfig(name=name, conditional=True, labels="super", init_from="fashion-cond-ddpm", seed=3,
                          steps=300, batch_size=64, lr=1e-4, warmup_steps=20, ema_decay=0.99)
    elif name == "fashion-guide":
        base = ClassifierConfig(name=name, arch="guidance", seed=0)
    elif name == "fashion-eval":
        base = ClassifierConfig(name=name, arch="eval", seed=1)
    else:
        raise ValueError(f"unknown zoo model {name!r}; valid: {', '.join(NAMES)}")
    try:
        return replace(base, **overrides).validate()
    except TypeError as e:
        raise ValueError(f"bad option for {name}: {e}") from None


@dataclass
class TrainResult:
    """What a training run wrote and measured."""

    name: str
    weights_path: Path
    card_path: Path
    steps: int  # optimiser steps actually taken
    final_loss: float  # mean training loss over the last log window
    seconds: float
    stopped_early: bool  # True when max_minutes ran out before `steps`
    test_accuracy: float | None = None  # classifiers: accuracy on the test split (None without test data)
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, mean loss over the window) per log line
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. sample metrics of a DDPM

