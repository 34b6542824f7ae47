"""optimize()'s settings: the caller's values first, then the backend family's defaults (doodl.optimizer.defaults);
and the cheap stability check on the EDICT pair the optimizer computes anyway (doodl.samplers.stability)."""

from __future__ import annotations

import logging
import warnings
from dataclasses import fields
from typing import Any

from torch import Tensor

from ..samplers.stability import gap_warning, pair_gap
from .config import DoodlConfig
from .defaults import defaults_for

log = logging.getLogger("doodl.optimizer")


class ChainDivergedWarning(UserWarning):
    """EDICT's two chains disagree: the sampled images are unreliable."""


def resolve_settings(backend: Any, config: DoodlConfig | None, options: dict[str, Any], steps: int | None,
                     opt_steps: int | None) -> tuple[DoodlConfig, dict[str, Any], int, int]:
    """(config, conditioning, T, m): config as given, else keyword fields over the family's defaults."""
    names = {f.name for f in fields(DoodlConfig)}
    given = {k: v for k, v in options.items() if k in names}
    conditioning = {k: v for k, v in options.items() if k not in names}
    if config is not None and given:
        raise ValueError("give DoodlConfig fields either in config= or as keyword options, not both")
    fam = defaults_for(backend)
    cfg = config if config is not None else DoodlConfig(**{**fam.config_fields(), **given})
    return cfg, conditioning, fam.steps if steps is None else steps, fam.opt_steps if opt_steps is None else opt_steps


def check_chain(x0: Tensor, y0: Tensor, mix: float, steps: int) -> Tensor:
    """Per-image mean |x0 - y0|; warns (ChainDivergedWarning and the log) when the pair has diverged."""
    gap = pair_gap(x0, y0)
    msg = gap_warning(gap, mix, steps)
    if msg is not None:
        log.warning(msg)
        warnings.warn(msg, ChainDivergedWarning, stacklevel=3)
    return gap.cpu()
