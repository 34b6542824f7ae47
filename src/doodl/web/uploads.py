"""Uploaded images, checked like the CLI's inputs before any model sees them: size, format, pixel count."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..io import load_image

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 20 MB: a large photo; anything bigger is refused before it is decoded
MAX_UPLOAD_PIXELS = 4096 * 4096  # decompression bombs: refused from the header, before decoding
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")


def check_upload(path: str | os.PathLike, folder: str | os.PathLike, name: str = "upload") -> Path:
    """Check an uploaded file and copy it into `folder` (a temporary folder); return the copy's path.

    Refused with a ValueError naming `name`: missing, over MAX_UPLOAD_BYTES, not an image in FORMATS, over
    MAX_UPLOAD_PIXELS (read from the header, nothing decoded), or unreadable by doodl.io.load_image.
    """
    src = Path(path)
    if not src.is_file():
        raise ValueError(f"{name}: no file was uploaded")
    size = src.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise ValueError(f"{name}: {size / 2**20:.1f} MB is over the {MAX_UPLOAD_BYTES // 2**20} MB limit")
    try:
        with Image.open(src) as im:  # reads the header only
            fmt, (w, h) = im.format, im.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise ValueError(f"{name}: not a readable image ({type(e).__name__})") from None
    if fmt not in FORMATS:
        raise ValueError(f"{name}: format {fmt} is not accepted; expected one of {', '.join(FORMATS)}")
    if w * h > MAX_UPLOAD_PIXELS:
        raise ValueError(f"{name}: {w}x{h} pixels is over the limit of {MAX_UPLOAD_PIXELS} (decompression bomb guard)")
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / f"{name.replace(' ', '-')}-{len(list(out_dir.iterdir()))}.{fmt.lower()}"
    shutil.copyfile(src, dest)
    try:
        load_image(dest, name=name)  # the CLI's own check: decodes fully, mode supported
    except Image.DecompressionBombError:
        dest.unlink(missing_ok=True)
        raise ValueError(f"{name}: too many pixels to decode (decompression bomb guard)") from None
    except ValueError:
        dest.unlink(missing_ok=True)
        raise
    return dest
