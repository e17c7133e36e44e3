"""Write the toy wind data set to disk a day at a time, resumably.

A long run (years of 6-hourly frames) is never held in memory: each simulated
day is appended to a work file beside the output as it is produced (NetCDF:
unlimited ``time`` dimension; Zarr: ``append_dim``), and after each day the
model's whole state (:meth:`climviz.data.toy_wind.WindRun.snapshot`) is saved
beside it. An interrupted run (Ctrl-C, a killed job) leaves both behind; the
same call again continues from the last saved day and gives the same file as
an uninterrupted run (same machine and thread count). Only a complete file
appears at the output path.

Work files, for ``PATH = dir/NAME``: ``dir/.NAME.inprogress<suffix>`` (the data
so far) and ``dir/.NAME.inprogress.state.safetensors`` (the model state, with
the run's settings as JSON metadata; a resume with other settings is refused).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from climviz.data.io import output_format
from climviz.data.toy_wind import (
    VAR_ATTRS,
    WindModelConfig,
    WindRun,
    block_dataset,
    dataset_attrs,
    grid_coords,
    torch_threads,
)


def work_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(data, state)``: the work files of an unfinished run writing ``path``."""
    final = Path(path)
    return (
        final.with_name(f".{final.name}.inprogress{final.suffix}"),
        final.with_name(f".{final.name}.inprogress.state.safetensors"),
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _save_state(path: Path, run: WindRun, settings: str) -> None:
    from safetensors.torch import save_file

    tensors, counters = run.snapshot()
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"settings": settings, "counters": json.dumps(counters)})
    os.replace(tmp, path)


def _load_state(path: Path) -> tuple[dict, dict, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return tensors, json.loads(meta["counters"]), meta["settings"]


def _truncate(work: Path, fmt: str, n: int) -> None:
    """Drop frames past ``n`` that were appended after the last saved state (Zarr; NetCDF is
    overwritten in place from frame ``n`` on, and the run writes past every stale frame)."""
    if fmt != "zarr":
        return
    import zarr

    group = zarr.open_group(str(work), mode="r+")
    if group["time"].shape[0] > n:
        for name in ("time", *VAR_ATTRS):
            group[name].resize((n, *group[name].shape[1:]))
        zarr.consolidate_metadata(str(work))


def _append(work: Path, fmt: str, first: bool, hours, u, v, vort, lat, lon, attrs) -> None:
    nlat, nlon = len(lat), len(lon)
    var_enc = {"dtype": "float32"}
    if first:
        ds = block_dataset(hours, u, v, vort, lat, lon, attrs)
        if fmt == "netcdf":
            enc = {n: {**var_enc, "chunksizes": (1, nlat, nlon), "zlib": False} for n in VAR_ATTRS}
            ds.to_netcdf(work, unlimited_dims=("time",), encoding=enc, engine="netcdf4")
        else:
            enc = {n: {**var_enc, "chunks": (max(1, len(hours)), nlat, nlon)} for n in VAR_ATTRS}
            ds.to_zarr(work, mode="w", encoding=enc)
    elif fmt == "netcdf":
        import netCDF4

        with netCDF4.Dataset(work, "a") as nc:  # frame index of hours[0], as written by the run
            n0 = int(round(hours[0] / attrs["interval_hours"]))
            n1 = n0 + len(hours)
            nc["time"][n0:n1] = hours
            for name, x in (("u", u), ("v", v), ("vort", vort)):
                nc[name][n0:n1] = x
    else:
        block_dataset(hours, u, v, vort, lat, lon, attrs).to_zarr(work, append_dim="time")


def write_toy_wind(
    path: str | os.PathLike,
    grid: tuple[int, int] = (128, 256),
    days: float = 30.0,
    seed: int = 0,
    interval_hours: float = 6.0,
    progress: Callable[[int, int], None] | None = None,
    *,
    spinup_days: float = 10.0,
    config: WindModelConfig | None = None,
    threads: int | None = 1,
    resume: bool = True,
) -> Path:
    """Simulate and write the synthetic wind data set, one day at a time, resumably.

    NetCDF (``.nc``) or Zarr (``.zarr``) by suffix; memory stays at one day
    whatever ``days`` is. The file appears at ``path`` only once complete.
    ``resume``: continue an interrupted run of the same settings from its last
    saved day (its work files, see the module docstring); ``False`` discards
    them and starts afresh. Other arguments as :func:`climviz.data.toy_wind.toy_wind`
    (``config=None``: the default :class:`WindModelConfig`).
    """
    config = config or WindModelConfig()
    fmt = output_format(path)
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    work, state = work_paths(final)
    attrs = dataset_attrs(grid, days, seed, interval_hours, spinup_days, config)
    settings = json.dumps(attrs, sort_keys=True, default=str)
    lat, lon = grid_coords(*grid)
    run = WindRun(grid, days, seed, interval_hours, spinup_days, config)
    if resume and work.exists() and state.is_file():
        tensors, counters, saved = _load_state(state)
        if saved != settings:
            raise ValueError(
                f"{work} is an interrupted run with other settings; run with the same settings to "
                "continue it, or restart (--restart) to discard it"
            )
        run.restore(tensors, counters)
        _truncate(work, fmt, run.next_frame)
    else:
        for p in (work, state):
            _remove(p)
    with torch_threads(threads):
        for block in run.blocks(progress):
            _append(work, fmt, not work.exists(), *block, lat, lon, attrs)
            _save_state(state, run, settings)
    if final.exists() and (final.is_dir() or work.is_dir()) and not final.is_symlink():
        _remove(final)  # os.replace cannot put a directory over a file, or onto one
    os.replace(work, final)
    state.unlink()
    return final
