"""Distributed setup: which process this is, when to join a process group, and sums over processes.

- :class:`DistInfo`             this process's rank, the number of processes, its local rank
- :func:`launched_by_torchrun`  whether ``torchrun`` started this process (its own marker variables are set)
- :func:`world_from_environment`   the ranks this process takes part in, as the environment and the caller say
- :func:`setup_distributed`     join that process group (gloo on the CPU, nccl on CUDA)
- :func:`device_for`            the device a process trains on (under torchrun with CUDA: GPU ``LOCAL_RANK``)
- :func:`all_reduce_sum`, :func:`all_gather`   sum a tensor over the processes, collect one object from each

**When is a group joined?** ``torchrun --nproc_per_node=N script.py`` starts N processes and gives
each ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``, and variables of its
own such as ``TORCHELASTIC_RUN_ID``. ``RANK`` and ``WORLD_SIZE`` alone say little: a Jupyter kernel
started from a shell of an earlier run can inherit them, and joining would then wait for processes
that never come. So ``distributed=None`` (the trainer's default) joins only under torchrun, and runs
as one process otherwise (with a warning if ``WORLD_SIZE`` says more). ``distributed=True`` trusts
``RANK``/``WORLD_SIZE`` whoever set them (another launcher, a hand-written script); ``False`` never
joins.
"""

from __future__ import annotations

import atexit
import os
import warnings
from dataclasses import dataclass

import torch

__all__ = ["DistInfo", "TORCHRUN_MARKERS", "launched_by_torchrun", "world_from_environment", "setup_distributed",
           "device_for", "all_reduce_sum", "all_gather"]

#: Variables that torchrun (``torch.distributed.run``) sets in every process it starts, and a shell does not.
TORCHRUN_MARKERS = ("TORCHELASTIC_RUN_ID",)


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a distributed run (a single process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints and logs."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """Whether torchrun started this process: one of :data:`TORCHRUN_MARKERS` is in the environment."""
    return any(name in os.environ for name in TORCHRUN_MARKERS)


def _group_initialised() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def _env_world() -> DistInfo:
    """The ranks ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` announce (rank 0 of 1 if none)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    try:
        return DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", os.environ["RANK"])))
    except KeyError as err:
        raise RuntimeError(f"WORLD_SIZE={world} is set but {err.args[0]} is not: start distributed runs "
                           f"with torchrun, which sets RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT") from None


def world_from_environment(distributed: bool | None = True) -> DistInfo:
    """The ranks this process takes part in; nothing is joined here.

    ``distributed``: ``False`` is always rank 0 of 1. ``None`` reads ``RANK``/``WORLD_SIZE`` only
    under torchrun (:func:`launched_by_torchrun`); without it they are ignored, with a warning
    naming them. ``True`` reads them whoever set them. An already initialised process group wins
    over the environment unless ``distributed`` is ``False``.
    """
    if distributed is False:
        return DistInfo()
    if _group_initialised():
        import torch.distributed as dist

        rank = dist.get_rank()
        return DistInfo(rank, dist.get_world_size(), int(os.environ.get("LOCAL_RANK", rank)))
    if distributed is None and not launched_by_torchrun():
        if os.environ.get("WORLD_SIZE", "1").strip() not in ("", "1"):
            found = ", ".join(f"{n}={os.environ[n]}" for n in ("WORLD_SIZE", "RANK", "LOCAL_RANK") if n in os.environ)
            warnings.warn(f"{found} set in the environment, but this process was not started by torchrun "
                          f"(no {TORCHRUN_MARKERS[0]}): running as one process. Pass distributed=True to "
                          f"join the process group these variables describe", stacklevel=3)
        return DistInfo()
    return _env_world()


def setup_distributed(device: torch.device | None = None, *, distributed: bool | None = True) -> DistInfo:
    """Join the process group the environment describes, if any; return this rank.

    ``distributed`` says whether to read the environment at all (see :func:`world_from_environment`):
    calling this function is asking, so it defaults to ``True`` here. Uses ``nccl`` when ``device``
    is a CUDA device, ``gloo`` otherwise. Does nothing if the group is already initialised (then its
    rank and size are returned) or if the world is one process. A group started here is destroyed
    when the interpreter exits.
    """
    import torch.distributed as dist

    info = world_from_environment(distributed)
    if info.world_size == 1 or _group_initialised():
        return info
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend)  # reads MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    atexit.register(lambda: dist.is_initialized() and dist.destroy_process_group())
    return DistInfo(dist.get_rank(), dist.get_world_size(), info.local_rank)


def device_for(world: DistInfo, device: torch.device | str | None = None) -> torch.device:
    """The device this process computes on: ``device``, or :func:`gptlib.device.get_device` if None. A
    CUDA device without an index becomes GPU ``LOCAL_RANK`` in a distributed run, the current GPU otherwise.

    >>> device_for(DistInfo(), "cpu")
    device(type='cpu')
    """
    if device is not None:
        device = torch.device(device)
    else:
        from gptlib.device import get_device

        device = get_device()
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", world.local_rank if world.world_size > 1 else torch.cuda.current_device())
    return device


def all_reduce_sum(t: torch.Tensor, world_size: int) -> torch.Tensor:
    """``t`` summed over the processes, in place (every process gets the sum); ``t`` itself for one process."""
    if world_size > 1:
        import torch.distributed as dist

        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_gather(obj, world_size: int) -> list:
    """One picklable object from every process, in rank order (``[obj]`` for one process)."""
    if world_size == 1:
        return [obj]
    import torch.distributed as dist

    everyone: list = [None] * world_size
    dist.all_gather_object(everyone, obj)
    return everyone
