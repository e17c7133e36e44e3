"""Ensemble generation spread over Dask workers, written to one Zarr store.

``generate_to_zarr(model, cond, "out.zarr", GenerationRequest(n_members=100), client=client)``
splits the members into tasks of ``members_per_task``; each task loads the
generator once per worker process (cached), generates its members with
``EnsembleGenerator.sample_latents`` (the request with ``member_offset=a``) and writes its
region ``member = a:b`` of one Zarr store straight from the worker, so no
member ever travels back to the client. Member ``k`` depends only on
``(seed, k)``, so the store holds the ensemble that ``generate()`` gives in one
process (equal to float32 rounding: batched matmuls may differ in the last bits).

Why tasks split by member and not by time: the transformer mode samples the
whole time axis jointly (overlapping windows averaged at every step) and the
autoregressive mode conditions each chunk on the previous one, so a member's
months cannot be generated apart. Memory is bounded along time instead by
decoding the latents ``time_chunk`` months at a time, each slice written as
soon as it is decoded; the store's chunks are ``(1 member, time_chunk months,
lat, lon)`` and every write covers whole chunks, so tasks never share a chunk.

Atomic: the store is created (coordinates and metadata, no data) under a
temporary name beside the target, filled by the tasks, given its provenance
attributes and consolidated metadata, and renamed onto the target only when
every task succeeded. On failure the tasks are told to stop (an abort marker
in the temporary store, checked before every write), the client waits for
them, and the temporary store is removed. The target must be a path that the
client and every worker see (local disk for a local cluster, a shared
filesystem on a cluster): object stores have no atomic rename.

Memory per task (worker), for ``K = members_per_task``, ``T`` months on an
``H x W`` grid with latent frames of ``L = C h w`` values: the conditioning
run and its anomalies (``~3 T H W`` float32), the sampler state (``~16 K T L``
float32 equivalents: x, v and the float64 step arithmetic), the decoded slice
(``~3 K time_chunk H W`` float32) and the VAE's activations on one batch of
``vae_batch`` frames at full resolution. Each task encodes the conditioning
run itself (``T`` frames, against ``K T`` decoded ones). The README
("Scaling out") gives the figures measured for 100 members x 156 years at
96 x 192: about 0.8 + 0.53 K GiB per worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import xarray as xr

from climviz.data.io import atomic_path, default_encoding
from climviz.requests import GenerationRequest
from climviz.vocabulary import MEMBER_ATTRS

SCHEDULER_ENV = "CLIMVIZ_DASK_SCHEDULER"
ABORT_MARKER = ".climviz-abort"
DIMS = ("member", "time", "lat", "lon")

_GENERATORS: dict[str, object] = {}  # one loaded generator per model, per worker process
_LOCK = threading.Lock()


class GenerationAborted(RuntimeError):
    """A task stopped because the run it belongs to failed or was cancelled."""


# ---------------------------------------------------------------- workers
def _model_key(model) -> str | None:
    if isinstance(model, (str, os.PathLike)):
        return f"dir:{Path(model).resolve()}"
    if callable(model):
        import cloudpickle

        return "factory:" + hashlib.sha256(cloudpickle.dumps(model)).hexdigest()
    return None  # a ready generator: used as it is


def load_generator(model):
    """The generator for ``model`` (directory, zero-argument factory or generator), cached per process."""
    key = _model_key(model)
    if key is None:
        return model
    with _LOCK:
        if key not in _GENERATORS:
            if isinstance(model, (str, os.PathLike)):
                from climviz.pipelines.ensemble import EnsembleGenerator

                _GENERATORS[key] = EnsembleGenerator.from_checkpoint(model)
            else:
                _GENERATORS[key] = model()
        return _GENERATORS[key]


def _check_abort(store: Path) -> None:
    if (store / ABORT_MARKER).exists():
        raise GenerationAborted(f"generation into {store} was aborted")


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"local pid {os.getpid()}"


def generate_task(
    model,
    cond: xr.DataArray,
    store: str,
    members: tuple[int, int],
    request: GenerationRequest,
    time_chunk: int,
    vae_batch: int,
) -> dict:
    """Generate members ``[a, b)`` of ``request`` and write them into ``store`` (region ``member = a:b``).

    Runs on a worker. ``a, b`` count from the store's first member (``request.member_offset``).
    Returns small facts only: the members written, the provenance attributes, the worker and
    its peak resident memory (bytes).
    """
    import torch
    import zarr

    store_path = Path(store)
    _check_abort(store_path)
    a, b = members
    part = replace(request, n_members=b - a, member_offset=request.member_offset + a)
    gen = load_generator(model)
    with torch.no_grad():
        cond, months, z = gen.sample_latents(cond, part, vae_batch=vae_batch)
        tas = zarr.open_group(str(store_path), mode="r+")["tas"]
        for t0 in range(0, len(months), time_chunk):
            t1 = min(t0 + time_chunk, len(months))
            fields = gen.decode_fields(z[:, t0:t1], months[t0:t1], batch=vae_batch)
            _check_abort(store_path)
            tas[a:b, t0:t1] = fields
    return {
        "members": (a, b),
        "attrs": gen.provenance(cond, request),
        "worker": _worker_name(),
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # Linux: KiB
    }


# ---------------------------------------------------------------- client
def plan_tasks(n_members: int, members_per_task: int) -> list[tuple[int, int]]:
    """Member ranges ``[a, b)`` of at most ``members_per_task`` covering ``0 .. n_members - 1``."""
    if n_members < 1:
        raise ValueError("n_members must be at least 1")
    if members_per_task < 1:
        raise ValueError("members_per_task must be at least 1")
    return [(a, min(a + members_per_task, n_members)) for a in range(0, n_members, members_per_task)]


def create_store(
    path: Path, cond: xr.DataArray, n_members: int, time_chunk: int, member_offset: int = 0
) -> None:
    """Write the empty store: coordinates (members ``member_offset ..``), ``tas`` metadata and
    chunking ``(1, time_chunk, lat, lon)``."""
    import dask.array

    t, h, w = cond.sizes["time"], cond.sizes["lat"], cond.sizes["lon"]
    data = dask.array.zeros((n_members, t, h, w), chunks=(1, time_chunk, h, w), dtype=np.float32)
    members = np.arange(member_offset, member_offset + n_members)
    coords = {
        "member": ("member", members, dict(MEMBER_ATTRS)),
        **{d: (d, cond[d].values, dict(cond[d].attrs)) for d in ("time", "lat", "lon")},
    }
    ds = xr.Dataset({"tas": (DIMS, data, {"units": "K"})}, coords=coords)
    encoding = default_encoding(ds, "zarr")
    encoding["tas"]["chunks"] = (1, time_chunk, h, w)
    ds.to_zarr(path, mode="w", compute=False, encoding=encoding, zarr_format=2, consolidated=True)


def finish_store(path: Path, attrs: dict) -> None:
    """Set the attributes of ``tas`` and consolidate the metadata (the last step before the rename)."""
    import zarr

    zarr.open_group(str(path), mode="r+")["tas"].attrs.update(attrs)
    zarr.consolidate_metadata(str(path))


def connect(scheduler: str, workers: int | None = None, **cluster_kwargs):
    """A ``distributed.Client``.

    ``"local"`` starts a LocalCluster of ``workers`` single-thread processes (closed with
    the client); a path ending in ``.json`` is a scheduler file (``dask scheduler
    --scheduler-file``); anything else is a scheduler address (``tcp://host:8786``).
    """
    from distributed import Client

    if scheduler == "local":
        return Client(n_workers=workers or 1, threads_per_worker=1, processes=True, **cluster_kwargs)
    if scheduler.endswith(".json"):
        return Client(scheduler_file=scheduler)
    return Client(scheduler)


_ENV_CLIENTS: dict[str, object] = {}


def client_from_env():
    """The client for ``$CLIMVIZ_DASK_SCHEDULER`` (an address or ``local``; one per process), or ``None``."""
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    if not address:
        return None
    with _LOCK:
        if address not in _ENV_CLIENTS or _ENV_CLIENTS[address].status in ("closed", "closing"):
            _ENV_CLIENTS[address] = connect(address, int(os.environ.get("CLIMVIZ_DASK_WORKERS", "0")) or None)
        return _ENV_CLIENTS[address]


def _resolve_client(client):
    if client is not None:
        return client
    env = client_from_env()
    if env is not None:
        return env
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None  # no cluster: tasks run one after another in this process


class GenerationJob:
    """A submitted generation: poll :meth:`progress`, then :meth:`result` (or :meth:`cancel`).

    Made by :func:`submit_generation`. ``result()`` waits for the tasks, writes the
    attributes, renames the temporary store onto the target and returns its path.
    """

    def __init__(
        self,
        store: Path,
        tmp: Path,
        futures: list,
        sizes: list[int],
        closer: contextlib.ExitStack,
        attrs: dict | None,
        executor=None,
    ):
        self.store, self.tmp, self.futures = store, tmp, futures
        self._sizes, self._closer, self._attrs, self._executor = sizes, closer, attrs or {}, executor
        self.n_members = sum(sizes)
        self.peak_rss: dict[str, int] = {}  # worker -> peak resident bytes, filled by result()
        self._path: Path | None = None

    def progress(self) -> tuple[int, int]:
        """``(members written, members requested)``."""
        ok = [f.done() and not f.cancelled() and f.exception() is None for f in self.futures]
        return sum(n for good, n in zip(ok, self._sizes) if good), self.n_members

    def done(self) -> bool:
        """Every task has finished (written, failed or aborted)."""
        return all(f.done() for f in self.futures)

    def _abort(self, err: BaseException) -> None:
        with contextlib.suppress(OSError):
            (self.tmp / ABORT_MARKER).touch()
        if isinstance(err, Exception):  # wait for running tasks, so none writes after the removal
            for f in self.futures:
                with contextlib.suppress(BaseException):
                    f.exception()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._closer.__exit__(type(err), err, err.__traceback__)  # removes the temporary store

    def cancel(self) -> None:
        """Stop the run and remove its temporary store (no-op once :meth:`result` returned)."""
        if self._path is None:
            self._abort(GenerationAborted("cancelled"))
            self._path = Path()

    def result(self, progress: Callable[[int, int], None] | None = None) -> Path:
        """Wait for every task, finish the store atomically and return its path.

        ``progress(members written, members requested)`` after each task.
        Raises the first task error (after removing the temporary store).
        """
        if self._path is not None:
            return self._path
        if self._executor is not None:
            from concurrent.futures import as_completed

            completed = as_completed(self.futures)
        else:
            from distributed import as_completed

            completed = as_completed(self.futures, loop=self.futures[0].client.loop)
        try:
            attrs, written = None, 0
            for fut in completed:  # the first failure ends the wait at once
                out = fut.result()
                attrs = attrs or out["attrs"]
                self.peak_rss[out["worker"]] = max(self.peak_rss.get(out["worker"], 0), out["peak_rss"])
                written += out["members"][1] - out["members"][0]
                if progress:
                    progress(written, self.n_members)
            finish_store(self.tmp, {**attrs, **self._attrs})
        except BaseException as err:
            self._path = Path()
            self._abort(err)
            raise
        if self._executor is not None:
            self._executor.shutdown()
        self._closer.close()  # renames the temporary store onto the target
        self._path = self.store
        return self.store


def submit_generation(
    model,
    cond: xr.DataArray,
    store,
    request: GenerationRequest,
    *,
    members_per_task: int = 4,
    client=None,
    time_chunk: int = 120,
    vae_batch: int = 64,
    attrs: dict | None = None,
) -> GenerationJob:
    """Start generating ``request`` into the Zarr ``store``; return a :class:`GenerationJob` at once.

    ``client``: a ``distributed.Client``; ``None`` uses ``$CLIMVIZ_DASK_SCHEDULER`` (see
    :func:`connect`; ``local`` starts ``$CLIMVIZ_DASK_WORKERS`` workers) if set, else the
    default Dask client if there is one, else runs the tasks one after another in a
    background thread of this process. Other arguments as in :func:`generate_to_zarr`.

    For the dashboard (the call returns at once; poll from a periodic callback)::

        request = GenerationRequest(n_members=50, steps=20, seed=42)
        job = submit_generation("models/ensemble", cond, "runs/gen-42.zarr", request)
        done, total = job.progress()          # members written so far
        if job.done():
            ens = open_ensemble(job.result())  # raises the task's error, if one failed
        job.cancel()                           # stop and remove the partial store
    """
    store = Path(store).absolute()
    if store.suffix.lower() != ".zarr":
        raise ValueError(
            f"distributed generation writes a Zarr store: use a .zarr suffix, not {str(store)!r}"
        )
    if time_chunk < 1 or vae_batch < 1:
        raise ValueError("time_chunk and vae_batch must be at least 1")
    if not isinstance(request, GenerationRequest):
        raise TypeError(f"expected a climviz.requests.GenerationRequest, got {type(request).__name__}")
    ranges = plan_tasks(request.n_members, members_per_task)
    if isinstance(model, (str, os.PathLike)):
        model = str(Path(model).absolute())
    cond = cond.load()
    client = _resolve_client(client)
    closer = contextlib.ExitStack()
    tmp = closer.enter_context(atomic_path(store))
    try:
        create_store(tmp, cond, request.n_members, min(time_chunk, cond.sizes["time"]), request.member_offset)
        args = (request, time_chunk, vae_batch)
        if client is None:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="climviz-generate")
            futures = [executor.submit(generate_task, model, cond, str(tmp), r, *args) for r in ranges]
        else:
            executor = None
            token = uuid.uuid4().hex[:8]
            model_f, cond_f = client.scatter([model, cond], hash=False)
            futures = [
                client.submit(
                    generate_task,
                    model_f,
                    cond_f,
                    str(tmp),
                    r,
                    *args,
                    pure=False,
                    key=f"climviz-generate-{token}-{r[0]}",
                )
                for r in ranges
            ]
    except BaseException as err:
        closer.__exit__(type(err), err, err.__traceback__)
        raise
    return GenerationJob(store, tmp, futures, [b - a for a, b in ranges], closer, attrs, executor)


def generate_to_zarr(
    model,
    cond: xr.DataArray,
    store,
    request: GenerationRequest,
    *,
    members_per_task: int = 4,
    client=None,
    time_chunk: int = 120,
    vae_batch: int = 64,
    attrs: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Generate ``request.n_members`` members conditioned on ``cond`` into one Zarr store; return its path.

    Parameters
    ----------
    model : checkpoint directory (``models/ensemble``), a picklable zero-argument
        factory returning an ``EnsembleGenerator``, or a generator (scattered to the workers once).
        Each worker process loads a directory or factory once and keeps it.
    cond : xr.DataArray (time, lat, lon) in K, the conditioning run (sent once to the cluster).
    store : target ``.zarr`` path, seen by the client and every worker.
    request : :class:`climviz.requests.GenerationRequest`, as in ``EnsembleGenerator.generate``;
        the store's members are ``request.member_offset .. + n_members - 1``.
    members_per_task : members generated together by one task (the split is along
        members only: the time axis of a member is sampled jointly).
    client : ``distributed.Client``; ``None``: see :func:`submit_generation`.
    time_chunk : months decoded and written at once, and the store's time chunk.
    vae_batch : frames per VAE encoder/decoder call (bounds their activations).
    attrs : extra attributes of ``tas`` (override the provenance ones).
    progress : ``progress(members written, request.n_members)`` after each task.

    Returns
    -------
    Path of the store: ``tas (member, time, lat, lon)`` in K, chunks ``(1, time_chunk, lat, lon)``.
    """
    job = submit_generation(
        model,
        cond,
        store,
        request,
        members_per_task=members_per_task,
        client=client,
        time_chunk=time_chunk,
        vae_batch=vae_batch,
        attrs=attrs,
    )
    return job.result(progress)
