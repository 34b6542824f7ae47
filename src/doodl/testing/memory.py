"""A meter of the bytes autograd keeps for backward, live while graphs are built and freed (tests, benchmarks)."""

from __future__ import annotations

from typing import Any, Callable

import torch


class LiveSaved:
    """Live bytes of tensors saved for backward, per storage (storages in `exclude`, e.g. weights, not counted),
    including the graphs a custom backward builds (the reversible chain's); `peak` is the maximum seen."""

    def __init__(self, exclude: set[int] | None = None) -> None:
        self.exclude, self.refs, self.now, self.peak = exclude or set(), {}, 0, 0

    def pack(self, t: torch.Tensor) -> Any:
        """saved_tensors_hooks' pack: count the storage once while any handle to it lives."""
        ptr = t.untyped_storage().data_ptr()
        if ptr in self.exclude:
            return t
        count, size = self.refs.get(ptr, (0, t.untyped_storage().nbytes()))
        if count == 0:
            self.now += size
            self.peak = max(self.peak, self.now)
        self.refs[ptr] = (count + 1, size)
        return _Held(t, self, ptr)

    def release(self, ptr: int) -> None:
        """A handle died: uncount its storage when it was the last."""
        count, size = self.refs[ptr]
        self.refs[ptr] = (count - 1, size)
        if count == 1:
            del self.refs[ptr]
            self.now -= size

    def hooks(self) -> Any:
        """The context manager that installs the meter."""
        return torch.autograd.graph.saved_tensors_hooks(self.pack, lambda h: h.t if isinstance(h, _Held) else h)

    def measure(self, fn: Callable[[], Any]) -> int:
        """Run fn (forward and backward) under the meter; the peak live saved bytes."""
        with self.hooks():
            fn()
        return self.peak


def saved_bytes(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Bytes autograd saves for backward while fn runs (every packed tensor counted once per save), and fn's result."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return total, out


def weight_storages(module: torch.nn.Module) -> set[int]:
    """Storage pointers of a module's parameters (to exclude from LiveSaved)."""
    return {p.untyped_storage().data_ptr() for p in module.parameters()}


class _Held:
    """Handle of one saved tensor; uncounts it when autograd drops it."""

    def __init__(self, t: torch.Tensor, meter: LiveSaved, ptr: int) -> None:
        self.t, self.meter, self.ptr = t, meter, ptr

    def __del__(self) -> None:
        self.meter.release(self.ptr)
