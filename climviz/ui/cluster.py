"""Hand a generation request to a Dask scheduler (no Panel, no torch here).

Configured by environment variables: ``CLIMVIZ_DASK_SCHEDULER`` (an address,
a scheduler file or ``local``; see :func:`climviz.pipelines.distributed.connect`),
``CLIMVIZ_DASK_MIN_MEMBERS`` (requests of at least this many members go there,
default 10), ``CLIMVIZ_DASK_MAX_WORK`` (its cap on members x months x steps,
default 10x the server's) and ``CLIMVIZ_DASK_STORE`` (a folder every worker
sees, for the temporary Zarr store; default the system's temporary folder).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import xarray as xr

from climviz.pipelines.distributed import SCHEDULER_ENV
from climviz.requests import GenerationRequest
from climviz.ui.jobs import env_cap

DASK_MIN_MEMBERS_ENV = "CLIMVIZ_DASK_MIN_MEMBERS"
DASK_MAX_WORK_ENV = "CLIMVIZ_DASK_MAX_WORK"
DASK_STORE_ENV = "CLIMVIZ_DASK_STORE"
MAX_CLUSTER_MEMBERS = 200


def dask_scheduler() -> str:
    """The scheduler named by ``$CLIMVIZ_DASK_SCHEDULER``, or '' when none is configured."""
    return os.environ.get(SCHEDULER_ENV, "").strip()


def min_cluster_members() -> int:
    """Requests of at least this many members go to the cluster (``$CLIMVIZ_DASK_MIN_MEMBERS``)."""
    return max(1, env_cap(DASK_MIN_MEMBERS_ENV, 10))


def cluster_max_work(server_cap: int) -> int:
    """The cluster's cap on members x months x steps (``$CLIMVIZ_DASK_MAX_WORK``, default 10x ``server_cap``)."""
    return env_cap(DASK_MAX_WORK_ENV, 10 * server_cap)


def generate_on_cluster(
    model_dir: str,
    cond: xr.DataArray,
    request: GenerationRequest,
    report: Callable[[int, int], None],
    poll: float = 0.25,
) -> xr.DataArray:
    """Generate ``request`` on the Dask workers.

    The workers load the generator from ``model_dir`` and write a temporary Zarr store in
    ``$CLIMVIZ_DASK_STORE``; it is read into memory and removed. Member ``k`` depends only on
    ``(seed, k)``, so the result equals the one-process ensemble. ``report(members written,
    members asked)`` is called while waiting; when it raises (the page's Cancel) the tasks are
    stopped and the store removed. The result's ``dask_scheduler`` attribute says where it ran.
    """
    from climviz.pipelines.distributed import submit_generation

    scheduler = dask_scheduler()
    folder = Path(tempfile.mkdtemp(prefix="climviz-dask-", dir=os.environ.get(DASK_STORE_ENV) or None))
    try:
        job = submit_generation(
            model_dir,
            cond,
            folder / "ensemble.zarr",
            request,
            members_per_task=max(1, min(4, request.n_members // 4)),
        )
        try:
            while not job.done():
                report(*job.progress())
                time.sleep(poll)
        except BaseException:
            job.cancel()
            raise
        with xr.open_zarr(job.result(), decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
            ens = ds["tas"].load()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return ens.assign_attrs(dask_scheduler=scheduler)
