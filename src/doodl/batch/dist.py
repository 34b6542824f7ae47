"""The process world of a batch run, on torch.distributed: torchrun / accelerate launch, or one process alone.

Launchers set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; we join their rendezvous with gloo on CPU
or nccl on CUDA, and use it only for a few collectives (broadcast the pending job list, gather counts, barrier).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Sequence, TypeVar

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)
T = TypeVar("T")

# ranks wait for each other at the end of a batch: a rank whose share finished early may wait for hours of DOODL
# steps on the others, so the collective timeout is generous (torch's default is 10-30 minutes)
DEFAULT_TIMEOUT_S = 7 * 24 * 3600


@dataclass
class World:
    """This process's place among the batch's processes; a single-process world has no process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None  # 'gloo' / 'nccl' when a process group is in use
    owns_group: bool = False  # True when init_world created the group (and close() destroys it)

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the summary and prints the final line."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when collectives go through a torch.distributed process group."""
        return self.backend is not None

    def barrier(self) -> None:
        """Wait until every rank gets here (no-op alone)."""
        if self.distributed:
            dist.barrier()

    def broadcast(self, obj: T) -> T:
        """Rank 0's `obj` on every rank (picklable objects)."""
        if not self.distributed:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]  # type: ignore[return-value]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order, on every rank."""
        if not self.distributed:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        """Destroy the process group if init_world created it."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from None


def init_world(backend: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> World:
    """Join the launcher's process group (torchrun / accelerate launch env vars), or a one-process world.

    backend: 'gloo' or 'nccl'; by default nccl when CUDA is available, else gloo. On CUDA each process uses the
    GPU of its LOCAL_RANK (torch.cuda.set_device), so jobs naming device 'cuda' land on their own GPU.
    """
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", 0), dist.get_backend(), False)
    rank, world_size, local_rank = _env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} and WORLD_SIZE={world_size} are inconsistent")
    if world_size == 1:
        return World()
    if not dist.is_available():
        raise ValueError("this torch build has no torch.distributed; run the batch as a single process")
    use_cuda = torch.cuda.is_available()
    backend = backend or ("nccl" if use_cuda else "gloo")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    if use_cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    log.info("rank %d of %d (local rank %d, %s)", rank, world_size, local_rank, backend)
    return World(rank, world_size, local_rank, backend, True)


def shard(items: Sequence[T], rank: int, world_size: int) -> list[T]:
    """Rank r's share: items[r::world_size] (every item lands on exactly one rank)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must lie in [0, world_size), got rank {rank} of {world_size}")
    return list(items[rank::world_size])
