"""Distributed training: the same ``lego run`` under ``torchrun``, one process per rank.

``torchrun --standalone --nproc-per-node N -m lego run FILE`` (or ``lego run
FILE --nproc N``, which starts it) trains with DistributedDataParallel: gloo on
CPU, nccl on CUDA (each rank on ``cuda:LOCAL_RANK``). The rules, so that a run
on N processes is the run on one process with the same global batch:

- every rank builds the same epoch plan and takes its share of each global
  batch (:meth:`Distributed.share`); its loss is weighted by its share of the
  batch, so DDP's averaged gradient is the gradient of the global batch's mean;
- evaluation: each rank scores its shard of the pairs, the scores are gathered
  to every rank in pair order, and the metrics are computed on all pairs (a
  per-rank metric averaged over ranks would be wrong for grouped metrics);
- rank 0 alone writes the run directory, checkpoints and results, holds the
  locks and calls the plugins' lifecycle hooks; the other ranks wait for it at
  the points where they read what it wrote;
- a stop request (SIGINT/SIGTERM, which torchrun forwards to every rank) is
  agreed on by all ranks at each step boundary, so they stop at the same step.

Without ``torchrun`` (no ``WORLD_SIZE`` in the environment) everything here is
a no-op: :data:`SINGLE` is a world of one.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from lego_core.errors import ConfigError


class Distributed:
    """The process group of a run (or a world of one)."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0) -> None:
        self.rank, self.world, self.local_rank = rank, world, local_rank

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: torch.device) -> Distributed:
        """Join the process group ``torchrun`` prepared (RANK, WORLD_SIZE, MASTER_ADDR, ...), if any."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return SINGLE
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            if backend == "nccl":
                torch.cuda.set_device(local_rank)
            dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
        return cls(rank, world, local_rank)

    def device(self, device: torch.device) -> torch.device:
        """Each rank's own GPU (``cuda:LOCAL_RANK``); CPU stays CPU."""
        if self.active and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    # ------------------------------------------------------------------ training
    def share(self, size: int) -> slice:
        """This rank's contiguous share of a global batch of ``size`` rows (shares differ by at most one)."""
        base, extra = divmod(size, self.world)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (1 if self.rank < extra else 0))

    def loss_weight(self, mine: int, size: int) -> float:
        """DDP averages gradients over ranks; weighting each rank's mean loss by ``world * mine / size``
        makes that average the gradient of the global batch's mean loss."""
        return self.world * mine / size if self.active else 1.0

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank (a stop request)."""
        if not self.active:
            return flag
        value = torch.tensor([1 if flag else 0], dtype=torch.int32)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def total(self, value: float) -> float:
        """The sum of ``value`` over ranks (a batch's loss, the pairs seen)."""
        if not self.active:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor)
        return float(tensor.item())

    # ------------------------------------------------------------------ evaluation
    def shard(self, count: int) -> slice:
        """This rank's contiguous shard of ``count`` evaluation pairs."""
        return self.share(count)

    def gather(self, part: np.ndarray, count: int) -> np.ndarray:
        """The shards of every rank, concatenated in rank order: all ``count`` values, on every rank."""
        if not self.active:
            return part
        parts: list[Any] = [None] * self.world
        dist.all_gather_object(parts, np.asarray(part))
        whole = np.concatenate(parts)
        assert whole.shape[0] == count, (whole.shape, count)
        return whole

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (the run directory's path)."""
        if not self.active:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


SINGLE = Distributed()


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """The command that runs ``lego ARGV`` on ``nproc`` processes of this machine through torchrun."""
    if nproc < 2:
        raise ConfigError(f"--nproc {nproc}: give 2 or more processes (1 is a plain `lego run`)")
    import sys

    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "lego",
        *argv,
    ]
