"""Fashion-MNIST (Xiao et al. 2017) from IDX files: Debian's dataset-fashion-mnist or any folder holding them."""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "DOODL_FASHION_MNIST"
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _norm_name(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def class_index(name_or_index: str | int) -> int:
    """Class index from a name (case and separators ignored: 'ankle-boot', 'Ankle boot') or an int 0-9."""
    if isinstance(name_or_index, int) and not isinstance(name_or_index, bool):
        if 0 <= name_or_index < len(CLASS_NAMES):
            return name_or_index
    elif isinstance(name_or_index, str):
        s = name_or_index.strip()
        if s.isdigit() and int(s) < len(CLASS_NAMES):
            return int(s)
        key = _norm_name(s)
        for i, n in enumerate(CLASS_NAMES):
            if key and (key == _norm_name(n) or (n == "T-shirt/top" and key in ("tshirt", "top"))):
                return i
    valid = ", ".join(f"{i}={n!r}" for i, n in enumerate(CLASS_NAMES))
    raise ValueError(f"unknown Fashion-MNIST class {name_or_index!r}; valid classes: {valid}")


def find_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the IDX files: `root`, else $DOODL_FASHION_MNIST, else Debian's location."""
    candidates = [Path(root)] if root is not None else ([Path(os.environ[ENV_VAR])] if os.environ.get(ENV_VAR) else [DEFAULT_DIR])
    for c in candidates:
        if c.is_dir() and all(_find_file(c, f) is not None for pair in FILES.values() for f in pair):
            return c
    raise FileNotFoundError(
        f"Fashion-MNIST not found in {', '.join(str(c) for c in candidates)}: install it with "
        f"`apt-get install dataset-fashion-mnist` (files under {DEFAULT_DIR}), or point ${ENV_VAR} (or root=) at a "
        "folder holding train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz] "
        "and t10k-labels-idx1-ubyte[.gz]"
    )


def _find_file(root: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    return None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip or raw) of unsigned bytes; checks the magic number and the size."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"cannot read IDX file {path}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or not 1 <= data[3] <= 4:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated or corrupt: header says {dims}, payload has {len(data) - offset} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load_fashion_mnist(split: str = "train", root: str | os.PathLike | None = None) -> tuple[Tensor, Tensor]:
    """(images uint8 (N, 28, 28), labels int64 (N,)) of the 'train' (60k) or 'test' (10k) split."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    r = find_root(root)
    img_file, lab_file = (_find_file(r, s) for s in FILES[split])
    images, labels = read_idx(img_file), read_idx(lab_file)  # type: ignore[arg-type]
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"Fashion-MNIST {split} files in {r} disagree: images {images.shape}, labels {labels.shape}")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def as_float_images(images: Tensor) -> Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1]."""
    return images.float().div(255).unsqueeze(1)
