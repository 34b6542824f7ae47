"""Find the Step a denoiser is being called at: guidance wrappers read its signal/noise and x0 estimate."""

from __future__ import annotations

from typing import Callable, Sequence

from torch import Tensor

from ..samplers.common import check_steps
from ..schedules.steps import Step


def step_lookup(steps: Sequence[Step]) -> Callable[[int | float | Tensor], Step]:
    """t -> the Step with that t (t as the samplers pass it: an int, a float, or a 0-dim tensor)."""
    table = {float(s.t): s for s in check_steps(steps)}

    def find(t: int | float | Tensor) -> Step:
        step = table.get(float(t))
        if step is None:
            raise ValueError(f"the model was called at t={float(t):g}, which is not one of the guidance's steps "
                             f"({len(table)} steps from t={max(table):g}); build the guidance with the sampler's steps")
        return step

    return find
