"""Images to and from files: PNG with run metadata, grids, strips and GIFs, image loading with clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, PngImagePlugin, UnidentifiedImageError
from torch import Tensor

from .atomic import atomic_path


def to_pil(image: Tensor) -> Image.Image:
    """(C, H, W) in [0, 1] (C = 1 or 3) to a PIL image (L or RGB)."""
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"image must be (C, H, W) with C in (1, 3), got {tuple(image.shape)}")
    arr = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(arr[0], "L") if arr.shape[0] == 1 else Image.fromarray(arr.transpose(1, 2, 0), "RGB")


def save_png(path: str | os.PathLike, image: Tensor | Image.Image, metadata: dict | None = None) -> Path:
    """Save atomically as PNG; `metadata` goes in a 'doodl' text chunk as JSON (and 'parameters' for viewers)."""
    img = image if isinstance(image, Image.Image) else to_pil(image)
    info = PngImagePlugin.PngInfo()
    if metadata:
        text = json.dumps(metadata, sort_keys=True, default=str)
        info.add_text("doodl", text)
        info.add_text("parameters", text)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", pnginfo=info)
    return Path(path)


def read_png_metadata(path: str | os.PathLike) -> dict:
    """The JSON stored by save_png (empty dict if none)."""
    with Image.open(path) as im:
        text = im.text.get("doodl") if hasattr(im, "text") else None
    return json.loads(text) if text else {}


def grid(rows: Sequence[Tensor], pad: int = 2, scale: int = 1) -> Image.Image:
    """Tile rows of images (each (N, C, H, W) in [0, 1]) into one picture, one row per entry."""
    if not rows:
        raise ValueError("grid needs at least one row")
    c, h, w = rows[0].shape[1:]
    n = max(r.shape[0] for r in rows)
    canvas = torch.ones(c, len(rows) * (h + pad) + pad, n * (w + pad) + pad)
    for i, r in enumerate(rows):
        for j, im in enumerate(r):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            canvas[:, y : y + h, x : x + w] = im.detach().float().cpu()
    img = to_pil(canvas)
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def save_gif(path: str | os.PathLike, frames: Sequence[Tensor], duration_ms: int = 200) -> Path:
    """Animated GIF of (C, H, W) frames, written atomically."""
    if not frames:
        raise ValueError("save_gif needs at least one frame")
    pil = [to_pil(f).convert("RGB") for f in frames]
    with atomic_path(path) as tmp:
        pil[0].save(tmp, format="GIF", save_all=True, append_images=pil[1:], duration=duration_ms, loop=0)
    return Path(path)


EIGHT_BIT_MODES = ("L", "RGB", "P", "1", "CMYK", "YCbCr")  # converted by Pillow without loss of meaning
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
BACKGROUND = 255  # transparent pixels are composited on white (8-bit value), the usual page behind a picture


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """An image with transparency (alpha band or a palette's transparent entry) composited onto BACKGROUND."""
    gray = img.mode in ("LA", "La") or (img.mode == "P" and img.palette is not None and img.palette.mode == "L")
    rgba = img.convert("LA" if gray else "RGBA")
    back = Image.new(rgba.mode, rgba.size, (BACKGROUND, 255) if gray else (BACKGROUND,) * 3 + (255,))
    return Image.alpha_composite(back.convert("RGBA"), rgba.convert("RGBA")).convert("L" if gray else "RGB")


def _high_depth_array(img: Image.Image, p: Path, name: str) -> np.ndarray:
    """(H, W) float32 in [0, 1] from a 16-bit (I;16*, or I from a 16-bit PNG: / 65535) or float (F) image."""
    arr = np.asarray(img)
    if img.mode in SIXTEEN_BIT_MODES or (img.mode == "I" and img.format == "PNG"):
        return (arr.astype(np.float64) / 65535.0).astype(np.float32)
    if img.mode == "F":
        lo, hi = float(np.min(arr)), float(np.max(arr))
        if not (np.isfinite(arr).all() and lo >= 0.0 and hi <= 1.0):
            raise ValueError(f"{name} {str(p)!r} has mode 'F' (float): values must lie in [0, 1], found "
                             f"{lo:g}..{hi:g}; rescale it or save it as an 8- or 16-bit image")
        return arr.astype(np.float32)
    raise ValueError(f"{name} {str(p)!r} has mode {img.mode!r} (32-bit integers of no fixed range); "
                     "save it as an 8- or 16-bit image or a float TIFF in [0, 1]")


def _resize_crop(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale (bicubic) so the image covers `size` = (H, W), then center crop."""
    th, tw = size
    s = max(th / img.height, tw / img.width)
    img = img.resize((max(tw, round(img.width * s)), max(th, round(img.height * s))), Image.BICUBIC)
    left, top = (img.width - tw) // 2, (img.height - th) // 2
    return img.crop((left, top, left + tw, top + th))


def load_image(path: str | os.PathLike, size: tuple[int, int] | None = None, channels: int = 3, name: str = "image") -> Tensor:
    """Read an image file to (1, C, H, W) in [0, 1], converted to `channels` and resized (center crop) to `size`.

    8-bit images are divided by 255, 16-bit ones (PNG, TIFF) by 65535; float TIFFs (mode F) must hold [0, 1] and
    are taken as is. Transparency is composited onto white. Other modes (32-bit integers, ...) are refused by name.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{name} {str(p)!r} does not exist or is not a file")
    try:
        with Image.open(p) as im:
            im.load()
            img = im
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{name} {str(p)!r} is not a readable image ({e})") from None
    if img.mode in ALPHA_MODES or (img.mode in ("P", "L", "RGB") and "transparency" in img.info):
        img = _flatten_alpha(img)
    if img.mode in EIGHT_BIT_MODES:
        img = img.convert("L" if channels == 1 else "RGB")
        if size is not None:
            img = _resize_crop(img, size)
        arr = np.asarray(img, dtype=np.float32) / 255.0
    elif img.mode in SIXTEEN_BIT_MODES + ("I", "F"):
        plane = Image.fromarray(_high_depth_array(img, p, name), "F")  # float plane: resizing keeps the precision
        if size is not None:
            plane = _resize_crop(plane, size)
        arr = np.clip(np.asarray(plane, dtype=np.float32), 0.0, 1.0)
        arr = arr if channels == 1 else np.repeat(arr[..., None], 3, axis=-1)
    else:
        raise ValueError(f"{name} {str(p)!r} has unsupported mode {img.mode!r}")
    t = torch.from_numpy(np.ascontiguousarray(arr))
    t = t[None] if t.ndim == 2 else t.permute(2, 0, 1)
    return t[None].contiguous()
