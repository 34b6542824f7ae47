"""The superclasses of Fashion-MNIST for the paper-faithful vocabulary-expansion task (DOODL §5.2): a generator
that knows only the coarse category ("footwear") is steered by a fine-grained classifier ("ankle boot")."""

from __future__ import annotations

import re

import torch
from torch import Tensor

from ..data.fashion_mnist import CLASS_NAMES, class_index

# superclass name -> its fine Fashion-MNIST classes (indices of CLASS_NAMES); order fixes the label ids 0..3
SUPERCLASSES: dict[str, tuple[int, ...]] = {
    "tops": (0, 2, 3, 4, 6),  # T-shirt/top, pullover, dress, coat, shirt
    "trousers": (1,),
    "footwear": (5, 7, 9),  # sandal, sneaker, ankle boot
    "bags": (8,),
}
SUPER_NAMES = tuple(SUPERCLASSES)
NUM_SUPER = len(SUPER_NAMES)  # label NUM_SUPER is the null label of the superclass model (label dropout)
FINE_TO_SUPER = tuple(next(i for i, fs in enumerate(SUPERCLASSES.values()) if k in fs) for k in range(len(CLASS_NAMES)))


def super_index(name_or_index: str | int) -> int:
    """Superclass id from a name ('footwear', case and separators ignored) or an int 0-3; ValueError listing them."""
    if isinstance(name_or_index, int) and not isinstance(name_or_index, bool) and 0 <= name_or_index < NUM_SUPER:
        return name_or_index
    if isinstance(name_or_index, str):
        key = re.sub(r"[^a-z0-9]", "", name_or_index.lower())
        if key.isdigit() and int(key) < NUM_SUPER:
            return int(key)
        for i, n in enumerate(SUPER_NAMES):
            if key in (n, n.rstrip("s")):
                return i
    valid = ", ".join(f"{i}={n!r}" for i, n in enumerate(SUPER_NAMES))
    raise ValueError(f"unknown superclass {name_or_index!r}; valid superclasses: {valid}")


def superclass_of(fine: str | int) -> int:
    """The superclass id of a fine class (name or index)."""
    return FINE_TO_SUPER[class_index(fine)]


def check_target_in_super(target: str | int, superclass: str | int) -> tuple[int, int]:
    """(fine index, superclass id); ValueError naming both when the target is not one of the superclass's classes."""
    k, s = class_index(target), super_index(superclass)
    if k not in SUPERCLASSES[SUPER_NAMES[s]]:
        members = ", ".join(CLASS_NAMES[i] for i in SUPERCLASSES[SUPER_NAMES[s]])
        raise ValueError(f"target {CLASS_NAMES[k]!r} is not in superclass {SUPER_NAMES[s]!r} (its classes: {members}); "
                         f"{CLASS_NAMES[k]!r} belongs to {SUPER_NAMES[FINE_TO_SUPER[k]]!r}")
    return k, s


def to_super_labels(labels: Tensor) -> Tensor:
    """Fine labels 0..9 -> superclass labels 0..3."""
    return torch.tensor(FINE_TO_SUPER, dtype=torch.long, device=labels.device)[labels.long()]
