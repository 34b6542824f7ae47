"""Training the zoo: pixel DDPMs (Ho et al. 2020, Algorithm 1; label dropout for classifier-free guidance, Ho &
Salimans 2022) and clean-image classifiers. Seeded, logged, time-budgeted; reproducible bit for bit on CPU."""

from __future__ import annotations

import copy
import hashlib
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..schedules import make_alphas_cumprod
from .cards import ModelCard, output_dir, read_card, write_card, write_readme
from ..data.fashion_mnist import CLASS_NAMES
from .config import DDPM_NAMES, ClassifierConfig, DDPMConfig, TrainResult
from .fid import classifier_accuracy
from .loop import Data, LoopResult, batch_indices, ema_update, held_out_data, random_hflip, random_shift, \
    resolve_device, run_steps, training_data
from .models import NUM_CLASSES, unet_config
from .registry import build_module, save_weights, weights_path, zoo_dir
from .superclass import NUM_SUPER, SUPERCLASSES, to_super_labels

logger = logging.getLogger(__name__)


def _setup(cfg: DDPMConfig | ClassifierConfig) -> tuple[torch.device, torch.Generator]:
    dev = resolve_device(cfg.device)
    if cfg.amp and dev.type != "cuda":
        logger.warning("%s: --amp (bf16 autocast) is CUDA-only; training in float32 on %s", cfg.name, dev)
    torch.manual_seed(cfg.seed)  # model init (built on CPU, so identical on every device) and dropout
    if dev.type == "cuda":  # speed: autotuned convolutions, TF32 matmuls where --amp leaves float32
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
    return dev, torch.Generator(device=dev).manual_seed(cfg.seed)  # data order, t, noise, label dropout, shifts


def _autocast(cfg: DDPMConfig | ClassifierConfig, dev: torch.device):
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=cfg.amp and dev.type == "cuda")


def train_ddpm(cfg: DDPMConfig, data: Data | None = None, *, out_dir: str | os.PathLike | None = None,
               command: str | None = None) -> TrainResult:
    """Train an eps-prediction DDPM (Algorithm 1) on Fashion-MNIST padded to 32x32; save its EMA as the zoo model.

    Args:
        cfg: the training config (cfg.conditional: class labels with label dropout to the null label 10).
        data: (uint8 images (N, 28, 28), labels (N,)); None loads Fashion-MNIST's train split.
        out_dir: where <name>.safetensors / .json / .png go (default: $DOODL_ZOO_DIR; see cards.output_dir).
        command: recorded in the model card.
    """
    cfg.validate()
    dev, gen = _setup(cfg)
    (images, labels), source = training_data(cfg, data)
    n_labels = NUM_SUPER if cfg.labels == "super" else NUM_CLASSES
    if cfg.labels == "super":
        labels = to_super_labels(labels)  # the model never sees a fine label
    arch_cfg = unet_config(cfg.conditional, cfg.unet_config, n_labels)
    unet = build_module("UNet2DModel", arch_cfg)
    if cfg.init_from is not None:
        _init_from(unet, cfg.init_from, out_dir)
    unet = unet.to(dev).train()
    ema = copy.deepcopy(unet).eval().requires_grad_(False)
    opt = torch.optim.AdamW(_param_groups(unet, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=dev.type == "cuda")
    ac = make_alphas_cumprod(cfg.schedule, cfg.num_train_timesteps).to(dev, torch.float32)
    images, labels = images.to(dev), labels.to(dev)
    batches = batch_indices(images.shape[0], cfg.batch_size, gen, dev)
    logger.info("%s: training on %s, %s, %d parameters", cfg.name, dev, source, sum(p.numel() for p in unet.parameters()))

    def step(i: int) -> Tensor:
        idx = next(batches)
        x0 = F.pad(images[idx].float().div(127.5).sub(1).unsqueeze(1), (cfg.pad,) * 4, value=-1.0)  # [-1, 1], padded
        if cfg.hflip:
            x0 = random_hflip(x0, gen)
        t = torch.randint(0, cfg.num_train_timesteps, (x0.shape[0],), generator=gen, device=dev)  # 1. t ~ U{1..T}
        noise = torch.randn(x0.shape, generator=gen, device=dev)  # 2. eps ~ N(0, I)
        a = ac[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise  # 3. x_t = sqrt(a_bar) x0 + sqrt(1 - a_bar) eps (DDPM eq. 4)
        y = None
        if cfg.conditional:  # 4. label dropout: the null label trains the unconditional branch of CFG
            drop = torch.rand(x0.shape[0], generator=gen, device=dev) < cfg.label_dropout
            y = torch.where(drop, torch.full_like(labels[idx], n_labels), labels[idx])
        with _autocast(cfg, dev):
            pred = unet(xt, t, class_labels=y).sample
        loss = F.mse_loss(pred.float(), noise)  # 5. ||eps - eps_theta(x_t, t)||^2 (DDPM eq. 14)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(unet.parameters(), cfg.grad_clip)
        opt.step()
        ema_update(ema, unet, cfg.ema_decay, i)
        return loss.detach()

    run = run_steps(cfg, step, opt)
    out = output_dir(out_dir)
    extra = {"ema_decay": cfg.ema_decay, "schedule": f"{cfg.schedule} betas 1e-4..0.02, T={cfg.num_train_timesteps}",
             "prediction": "epsilon", "pad": f"28 -> {28 + 2 * cfg.pad} with -1"}
    if cfg.conditional:
        extra["label_dropout"] = f"p={cfg.label_dropout} to null label {n_labels}"
    if cfg.labels == "super":
        extra["labels"] = {name: [CLASS_NAMES[k] for k in ks] for name, ks in SUPERCLASSES.items()}
    if cfg.init_from is not None:
        extra["init_from"] = (f"{cfg.init_from} (its UNet weights; " + ("the class embedding started at zero)"
                              if cfg.init_from == "fashion-ddpm" else "each superclass embedding started at the mean of "
                              "its classes' embeddings, the fine ones dropped)"))
    meta = {"schedule": cfg.schedule, "num_train_timesteps": str(cfg.num_train_timesteps), "pad": str(cfg.pad),
            "labels": cfg.labels}
    path = save_weights(weights_path(cfg.name, out), ema, "UNet2DModel", arch_cfg, getattr(torch, cfg.save_dtype), meta)
    result = _finish(cfg, ema, "ddpm", path, run, source, command, None, extra)  # a card even if sampling fails
    try:
        samples = _ddpm_samples(cfg, out)
    except Exception as e:  # noqa: BLE001 -- the weights and card are saved; record why the extras are missing
        logger.warning("%s: sample grid / metrics failed (%s: %s); weights and card are saved", cfg.name,
                       type(e).__name__, e, exc_info=logger.isEnabledFor(logging.DEBUG))
        samples = {"samples_error": f"{type(e).__name__}: {e}"}
    if samples:
        card = read_card(cfg.name, out)
        assert card is not None
        card.extra.update(samples)
        write_card(card, out)
        write_readme(out)
        result.extra.update(samples)
    return result


EMBED_LR_MULT = 10.0  # fine-tuning: the zero-initialised class embedding learns at 10x the LR (Adam moves each weight
#                       ~lr per step; the trained embeddings of fashion-cond-ddpm have rms ~1, far from 0 at lr 2e-4)


def _param_groups(unet: nn.Module, cfg: DDPMConfig) -> list[dict]:
    """One AdamW group, or two when fine-tuning (init_from): the new class embedding at EMBED_LR_MULT x lr."""
    emb = getattr(unet, "class_embedding", None)
    if cfg.init_from is None or emb is None or cfg.init_from != "fashion-ddpm":  # only a zeroed embedding speeds up
        return [{"params": list(unet.parameters())}]
    ids = {id(p) for p in emb.parameters()}
    return [{"params": [p for p in unet.parameters() if id(p) not in ids]},
            {"params": list(emb.parameters()), "lr": cfg.lr * EMBED_LR_MULT}]


def _init_from(unet: nn.Module, name: str, out_dir: str | os.PathLike | None) -> None:
    """Copy a zoo DDPM's weights into `unet` (same architecture but for the class embedding). From the unconditional
    model the embedding starts at zero; from the 10-class model each superclass starts at the mean of its classes'
    embeddings and the null label at the null label's (the fine labels themselves are dropped)."""
    from .registry import read_weights

    src_dir = out_dir if out_dir is not None and weights_path(name, out_dir).is_file() else None
    tensors, _ = read_weights(weights_path(name, src_dir), name)
    state = {k: v.float() for k, v in tensors.items() if not k.startswith("class_embedding.")}
    missing, unexpected = unet.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("class_embedding.") for k in missing):
        raise ValueError(f"init_from={name!r} does not match the architecture (missing {missing}, unexpected {unexpected})")
    emb = getattr(unet, "class_embedding", None)
    if emb is None:
        return
    with torch.no_grad():
        src = tensors.get("class_embedding.weight")
        if src is None or src.shape[0] != NUM_CLASSES + 1 or emb.weight.shape[0] != NUM_SUPER + 1:
            nn.init.zeros_(emb.weight)
            how = "class embedding zeroed"
        else:
            for i, ks in enumerate(SUPERCLASSES.values()):
                emb.weight[i] = src[list(ks)].float().mean(0)
            emb.weight[NUM_SUPER] = src[NUM_CLASSES].float()
            how = "superclass embeddings = means of their classes' embeddings"
    logger.info("initialised from %s (%s)", name, how)


def _ddpm_samples(cfg: DDPMConfig, out: Path) -> dict:
    """The sample grid PNG beside the weights and, if asked and possible, sample metrics (from the saved file)."""
    if cfg.grid_seeds == 0 and cfg.sample_eval == 0:
        return {}
    from .registry import load_classifier, load_fashion_backend
    from .samples import sample_grid, sample_metrics

    extra: dict = {}
    backend = load_fashion_backend(cfg.conditional, cfg.device, weights_dir=out,
                                   name=cfg.name if cfg.name in DDPM_NAMES else None)  # exactly what users will load
    if cfg.grid_seeds:
        from ..io.images import save_png

        png = save_png(out / f"{cfg.name}.png", sample_grid(backend, cfg.grid_seeds, cfg.grid_steps))
        extra["grid"] = png.name
        extra["grid_how"] = (f"DDIM {cfg.grid_steps} steps, seeds 0-{cfg.grid_seeds - 1}"
                             + (", one row per class, no guidance (scale 1)" if cfg.conditional else ""))
    if cfg.sample_eval:
        try:
            eval_model = load_classifier("fashion-eval", cfg.device, weights_dir=out)
            from ..data.fashion_mnist import as_float_images, load_fashion_mnist

            ref = as_float_images(load_fashion_mnist("test", root=cfg.data_dir)[0])
        except (FileNotFoundError, ValueError) as e:
            logger.warning("%s: no sample metrics (%s)", cfg.name, e)
            return extra
        extra["samples"] = sample_metrics(backend, eval_model, ref, cfg.sample_eval, cfg.grid_steps)
        extra["samples_how"] = f"DDIM {cfg.grid_steps} steps vs the first {cfg.sample_eval} test images, fashion-eval features"
        logger.info("%s sample metrics: %s", cfg.name, extra["samples"])
    return extra


def train_classifier(cfg: ClassifierConfig, data: Data | None = None, test_data: Data | None = None, *,
                     out_dir: str | os.PathLike | None = None, command: str | None = None) -> TrainResult:
    """Train a classifier on clean images in [0, 1] (cross-entropy, light random shifts) and measure test accuracy.

    Args:
        cfg: the training config (cfg.arch: "guidance" -> GuidanceCNN, "eval" -> EvalCNN).
        data: (uint8 images (N, 28, 28), labels (N,)); None loads Fashion-MNIST's train split.
        test_data: held-out data for the card's accuracy; None uses the test split when `data` is None.
        out_dir: where <name>.safetensors / .json go (default: $DOODL_ZOO_DIR; see cards.output_dir).
        command: recorded in the model card.
    """
    cfg.validate()
    dev, gen = _setup(cfg)
    (images, labels), source = training_data(cfg, data)
    held_out = held_out_data(cfg, data, test_data)
    arch = "GuidanceCNN" if cfg.arch == "guidance" else "EvalCNN"
    arch_cfg = {} if cfg.width is None else {"width": cfg.width}
    model = build_module(arch, arch_cfg).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=dev.type == "cuda")
    images, labels = images.to(dev), labels.to(dev)
    batches = batch_indices(images.shape[0], cfg.batch_size, gen, dev)
    logger.info("%s: training %s on %s, %s", cfg.name, arch, dev, source)

    def step(i: int) -> Tensor:
        idx = next(batches)
        x = random_shift(images[idx].float().div(255).unsqueeze(1), cfg.max_shift, gen)  # [0, 1], light augmentation
        if cfg.hflip:
            x = random_hflip(x, gen)
        with _autocast(cfg, dev):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        return loss.detach()

    run = run_steps(cfg, step, opt)
    model.eval()
    acc = None
    if held_out is not None:
        acc = classifier_accuracy(model, held_out[0].to(dev), held_out[1])
        logger.info("%s: test accuracy %.4f on %d images", cfg.name, acc, held_out[0].shape[0])
    out = output_dir(out_dir)
    path = save_weights(weights_path(cfg.name, out), model, arch, arch_cfg, getattr(torch, cfg.save_dtype))
    extra = {"augmentation": f"random shifts up to {cfg.max_shift} px" + (", horizontal flips" if cfg.hflip else ""),
             "trained_on": "clean images only"}
    if held_out is not None:
        extra["test_images"] = int(held_out[0].shape[0])
    return _finish(cfg, model, "classifier", path, run, source, command, acc, extra)


def _finish(cfg: DDPMConfig | ClassifierConfig, module: nn.Module, kind: str, path: Path, run: LoopResult, source: str,
            command: str | None, acc: float | None, extra: dict) -> TrainResult:
    """Write the model card and the zoo README; build the TrainResult."""
    import dataclasses

    import diffusers
    import safetensors

    blob = path.read_bytes()
    card = ModelCard(
        name=cfg.name, kind=kind, arch=type(module).__name__, data=source, steps=run.steps, batch_size=cfg.batch_size,
        final_loss=run.final_loss, seconds=round(run.seconds, 1), device=_device_name(cfg.device),
        command=command or f"doodl.zoo.train_{kind if kind == 'ddpm' else 'classifier'}(<config>)",
        torch_version=torch.__version__, params=sum(p.numel() for p in module.parameters()),
        weights_file=path.name, weights_bytes=len(blob), weights_sha256=hashlib.sha256(blob).hexdigest(),
        save_dtype=cfg.save_dtype, seed=cfg.seed, test_accuracy=acc, stopped_early=run.stopped_early,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        config={k: v for k, v in dataclasses.asdict(cfg).items()},
        extra={**extra, "versions": {"diffusers": diffusers.__version__, "safetensors": safetensors.__version__}},
    )
    card_file = write_card(card, path.parent)
    write_readme(path.parent)
    logger.info("%s: wrote %s (%.2f MB) and %s", cfg.name, path, len(blob) / 1e6, card_file.name)
    return TrainResult(cfg.name, path, card_file, run.steps, run.final_loss, run.seconds, run.stopped_early, acc,
                       run.losses, extra)


def _device_name(device: str) -> str:
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
