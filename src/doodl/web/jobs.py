"""One job at a time on the device: execute() in a worker thread, live progress through a queue, Cancel."""

from __future__ import annotations

import queue
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from torch import Tensor

from ..runs import ModelCache, RunRecord, RunSpec, execute


class Cancelled(Exception):
    """Raised from the progress hook when Cancel was pressed; execute() stops at the next DOODL step."""


class Busy(ValueError):
    """A second job while one runs: refused (the page queues its own clicks; this guards the API)."""


@dataclass
class Progress:
    """What the page shows while a job runs: the latest iterates, the loss curve so far, and the final record."""

    seeds: tuple[int, ...] = ()
    step: int = -1
    opt_steps: int = 0
    images: Tensor | None = None  # (B, C, H, W) of the latest step
    frames: list[tuple[int, int, Tensor]] = field(default_factory=list)  # (seed, step, image) every step seen
    losses: dict[int, list[float | None]] = field(default_factory=dict)  # seed -> loss per step
    record: RunRecord | None = None
    error: str | None = None
    cancelled: bool = False
    out_dir: Path | None = None

    @property
    def done(self) -> bool:
        """Finished, failed or cancelled."""
        return self.record is not None or self.error is not None or self.cancelled


class JobRunner:
    """Runs RunSpecs one at a time, each into a fresh folder under `root`; models are cached between jobs."""

    def __init__(self, root: str | Path | None = None, max_frames: int = 64):
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="doodl-web-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.models = ModelCache()
        self.max_frames = max_frames
        self._lock = threading.Lock()
        self._cancel = threading.Event()

    @property
    def busy(self) -> bool:
        """Whether a job is running now."""
        return self._lock.locked()

    def cancel(self) -> bool:
        """Ask the running job to stop; False when none runs."""
        if not self.busy:
            return False
        self._cancel.set()
        return True

    def run(self, spec: RunSpec, poll_s: float = 0.1) -> Iterator[Progress]:
        """Start `spec` and yield Progress after every DOODL step and once at the end (done set)."""
        if not self._lock.acquire(blocking=False):
            raise Busy("a run is already in progress on this device; wait for it or press Cancel")
        self._cancel.clear()
        state = Progress(out_dir=Path(tempfile.mkdtemp(prefix="run-", dir=self.root)))
        updates: queue.Queue[dict[str, Any] | None] = queue.Queue()

        def hook(info: dict[str, Any]) -> None:
            if self._cancel.is_set():
                raise Cancelled("cancelled")
            updates.put(info)

        def work() -> None:
            try:
                state.record = execute(spec, state.out_dir, progress=False, models=self.models, on_step=hook)
            except Cancelled:
                state.cancelled = True
            except Exception as e:  # noqa: BLE001 -- shown on the page as one line
                state.error = f"{type(e).__name__}: {e}" if not isinstance(e, (ValueError, OSError)) else str(e)
            finally:
                updates.put(None)

        thread = threading.Thread(target=work, name="doodl-web-job", daemon=True)
        try:
            thread.start()
            while True:
                try:
                    info = updates.get(timeout=poll_s)
                except queue.Empty:
                    continue
                if info is None:
                    break
                self._apply(state, info)
                yield state
            thread.join()
            yield state
        finally:
            if thread.is_alive():  # the page went away mid-run: stop the worker at its next step
                self._cancel.set()
            thread.join()
            self._lock.release()

    def _apply(self, state: Progress, info: dict[str, Any]) -> None:
        state.seeds, state.step, state.opt_steps, state.images = info["seeds"], info["step"], info["opt_steps"], info["images"]
        for b, s in enumerate(info["seeds"]):
            state.losses.setdefault(s, []).append(info["loss"][b])
            state.frames.append((s, info["step"], info["images"][b]))
        del state.frames[: max(0, len(state.frames) - self.max_frames)]
