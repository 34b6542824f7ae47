"""Loading the reward networks from local folders, files or the hub cache; each failure names what was looked for."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..clip import ClipEmbedder
from ..loading import load_clip

PICKSCORE_MODEL = "yuvalkirstain/PickScore_v1"  # PickScore's released weights (a CLIP-H fine-tune)
PICKSCORE_PROCESSOR = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"  # the tokenizer PickScore's model card loads
HPS_ENV = "DOODL_HPS_CHECKPOINT"  # path of HPS_v2.1_compressed.pt when the guide gives no checkpoint=
IMAGE_REWARD_ENV = "DOODL_IMAGE_REWARD"  # folder of the ImageReward networks when the guide gives no model=


def load_pickscore(model: str = PICKSCORE_MODEL, processor: str = PICKSCORE_PROCESSOR, device: str | torch.device = "cpu",
                   dtype: torch.dtype = torch.float32) -> tuple[ClipEmbedder, float]:
    """(ClipEmbedder, exp(logit_scale)) for PickScore: a transformers CLIP folder or hub id, tokenizer from `processor`."""
    emb = load_clip(model, device, dtype)
    if emb.tokenizer is None:
        from transformers import AutoTokenizer

        try:
            emb.tokenizer = AutoTokenizer.from_pretrained(processor)
        except (OSError, ValueError) as e:
            raise FileNotFoundError(f"pickscore: no tokenizer in {model!r} and none found at {processor!r} ({e}); "
                                    f"give processor=FOLDER with the CLIP-H tokenizer files") from None
    scale = getattr(emb.model, "logit_scale", None)
    if not isinstance(scale, torch.Tensor):
        raise ValueError(f"pickscore: {model!r} has no logit_scale (not a CLIP model)")
    return emb, float(scale.detach().float().exp())


def load_hps(checkpoint: str | os.PathLike | None = None, device: str | torch.device = "cpu",
             dtype: torch.dtype = torch.float32) -> ClipEmbedder:
    """HPSv2.1: OpenCLIP ViT-H-14 with the HPS checkpoint (a state dict, or {'state_dict': ...}) as a ClipEmbedder."""
    from .preference import HPS_ARCH

    path_text = str(checkpoint) if checkpoint else os.environ.get(HPS_ENV, "")
    if not path_text:
        raise FileNotFoundError(f"hps: no checkpoint given; looked for checkpoint=PATH and ${HPS_ENV} "
                                f"(download HPS_v2.1_compressed.pt from xswu/HPSv2 and point either at it)")
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"hps: checkpoint {str(path)!r} not found (expected HPS_v2.1_compressed.pt)")
    try:
        import open_clip  # type: ignore[import-not-found]
    except Exception as e:  # noqa: BLE001 -- ImportError, or torchvision failing to load against this torch
        raise ValueError(f"hps needs open_clip_torch (pip install open_clip_torch; {type(e).__name__}: {e})") from None
    model = open_clip.create_model(HPS_ARCH, pretrained=None)
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing:
        raise ValueError(f"hps: {str(path)!r} is not an HPS {HPS_ARCH} checkpoint ({len(missing)} missing keys, e.g. {missing[0]!r})")
    model = model.to(device, dtype).eval().requires_grad_(False)
    cfg = getattr(model.visual, "preprocess_cfg", None) or {}
    from ..clip import CLIP_MEAN, CLIP_STD

    return ClipEmbedder(model, open_clip.get_tokenizer(HPS_ARCH), mean=cfg.get("mean", CLIP_MEAN),
                        std=cfg.get("std", CLIP_STD), name="hps-v2.1")


def load_image_reward(folder: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                      dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """ImageReward's networks from a folder: blip/ (BlipForImageTextRetrieval, save_pretrained, with its tokenizer)
    and head.safetensors (reward_head() state dict, ImageReward's mlp.layers.* keys without 'mlp.')."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BlipForImageTextRetrieval

    from .image_reward import reward_head

    text = str(folder) if folder else os.environ.get(IMAGE_REWARD_ENV, "")
    if not text:
        raise FileNotFoundError(f"image-reward: no model folder given; looked for model=FOLDER and ${IMAGE_REWARD_ENV}")
    root = Path(text).expanduser()
    blip, head_file = root / "blip", root / "head.safetensors"
    if not (blip / "config.json").is_file() or not head_file.is_file():
        raise FileNotFoundError(f"image-reward: folder {str(root)!r} must hold blip/config.json (a saved "
                                f"BlipForImageTextRetrieval) and head.safetensors; looked for {str(blip / 'config.json')!r} "
                                f"and {str(head_file)!r}")
    try:
        net = BlipForImageTextRetrieval.from_pretrained(str(blip))
        tokenizer = AutoTokenizer.from_pretrained(str(blip))
    except (OSError, ValueError) as e:
        raise ValueError(f"image-reward: cannot load {str(blip)!r} ({e})") from None
    state = {k.removeprefix("mlp.").removeprefix("layers."): v for k, v in load_file(str(head_file)).items()}
    head = reward_head(int(state["0.weight"].shape[1]) if "0.weight" in state else 768)
    try:
        head.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"image-reward: {str(head_file)!r} is not a reward_head() state dict ({e})") from None
    net = net.to(device, dtype).eval().requires_grad_(False)
    head = head.to(device, dtype).eval().requires_grad_(False)
    size = int(net.config.vision_config.image_size)
    return {"vision": net.vision_model, "text_encoder": net.text_encoder, "head": head, "tokenizer": tokenizer,
            "image_size": size}
