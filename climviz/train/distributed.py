"""Data-parallel training across the processes that ``torchrun`` starts.

Every rank draws the *global* batch (indices and noise) from the same seeded
generator and keeps only its rows ``rank::world`` (:func:`shard`);
DistributedDataParallel averages the gradients, so one step equals the
single-process step on the whole batch, up to float rounding, as long as the
loss is a mean over equal-size shards. Only rank 0 writes files.

The process group comes from the variables torchrun exports (``WORLD_SIZE``,
``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``): gloo on the CPU,
NCCL for CUDA tensors (each rank on ``cuda:LOCAL_RANK``). Without them every
function here is a no-op for the one process.
"""

from __future__ import annotations

import atexit
import datetime
import os

import torch
import torch.distributed as dist

# Ranks wait at barriers while rank 0 does one-off work (e.g. encodes the
# training set); torchrun stops every rank when one fails, so a long timeout
# costs nothing.
TIMEOUT = datetime.timedelta(hours=2)


def requested() -> bool:
    """True when torchrun (or a launcher like it) asked for more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def local_rank() -> int:
    """This process's index on its node (``LOCAL_RANK``, 0 when absent)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def init() -> bool:
    """Join the process group that the environment describes (once). True when distributed."""
    if not requested():
        return False
    if dist.is_initialized():
        return True
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank())
        backend = "cpu:gloo,cuda:nccl"  # NCCL for the gradients, gloo for CPU-side bookkeeping
    else:
        backend = "gloo"
    dist.init_process_group(backend, timeout=TIMEOUT)
    atexit.register(teardown)
    return True


def teardown() -> None:
    """Leave the process group (safe to call twice)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _place() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def world_size() -> int:
    """Processes training together (1 without a process group)."""
    return _place()[1]


def rank() -> int:
    """This process's global rank (0 without a process group)."""
    return _place()[0]


def is_rank0() -> bool:
    """True on the one process that writes checkpoints and progress lines."""
    return rank() == 0


def check_batch(batch_size: int) -> None:
    """Refuse a global batch that does not split into equal shards."""
    w = world_size()
    if batch_size % w:
        raise ValueError(
            f"batch size {batch_size} does not split evenly over {w} processes; choose a multiple of {w}"
        )


def shard(x, *, rank: int | None = None, world: int | None = None):
    """Rows ``rank::world`` of ``x`` (tensor or array, batch first); ``x`` itself for one process.

    ``rank`` and ``world`` default to this process's place in the group.
    """
    here, size = _place()
    rank, world = (here if rank is None else rank), (size if world is None else world)
    return x if world == 1 else x[rank::world]


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when distributed, else ``model`` itself.

    Call the returned module in the loss (that is what synchronises the
    gradients); save and load the weights of ``model``.
    """
    if world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device = next(model.parameters()).device
    ids = [device.index] if device.type == "cuda" and device.index is not None else None
    return DistributedDataParallel(model, device_ids=ids)


def global_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over all ranks (a detached copy; ``x`` itself for one process)."""
    if world_size() == 1:
        return x
    out = x.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def average(values: dict[str, float]) -> dict[str, float]:
    """Mean of each scalar over all ranks (for progress lines); every rank must call it."""
    w = world_size()
    if w == 1 or not values:
        return values
    t = torch.tensor([float(v) for v in values.values()], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return dict(zip(values, (t / w).tolist()))


def barrier() -> None:
    """Wait until every rank gets here (no-op for one process)."""
    if world_size() > 1:
        dist.barrier()
