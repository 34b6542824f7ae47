"""Runs of the four DOODL applications (§5.1-5.4): a RunSpec in, files and a RunRecord out (CLI and batch runner)."""

from .defaults import TASK_DEFAULTS, TASKS, TaskDefaults
from .execute import execute
from .models import ModelCache
from .record import RunRecord, SeedOutput
from .spec import RunSpec

__all__ = ["RunSpec", "RunRecord", "SeedOutput", "ModelCache", "execute", "TASKS", "TASK_DEFAULTS", "TaskDefaults"]
