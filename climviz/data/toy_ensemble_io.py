"""Write the synthetic temperature ensemble to NetCDF-4 or Zarr, member by member, atomically.

:func:`write_toy_ensemble` computes the next member (:func:`climviz.data.toy_ensemble.member_field`)
in a worker thread while the current one is compressed and written, so the ensemble
never needs to fit in memory. ``climviz data toy-ensemble`` calls it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import xarray as xr

from climviz.data.grid import CALENDAR, DEFAULT_GRID, TIME_UNITS
from climviz.data.toy_ensemble import (
    DEFAULT_PARAMS,
    LAT_ATTRS,
    LON_ATTRS,
    MEMBER_ATTRS,
    TAS_ATTRS,
    ToyEnsembleParams,
    _check_grid,
    _check_period,
    _dataset,
    _member_list,
    member_field,
)


def _write_netcdf(path: Path, ds: xr.Dataset, fields, total: int, progress) -> None:
    import cftime
    import netCDF4

    nt, nlat, nlon = ds.sizes["time"], ds.sizes["lat"], ds.sizes["lon"]
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.set_fill_off()  # every chunk is written whole
        nc.setncatts(ds.attrs)
        nc.createDimension("member", None)
        nc.createDimension("time", nt)
        nc.createDimension("lat", nlat)
        nc.createDimension("lon", nlon)
        nc.createDimension("bnds", 2)
        v = nc.createVariable("member", "i4", ("member",))
        v.setncatts(MEMBER_ATTRS)
        v = nc.createVariable("time", "f8", ("time",))
        v.setncatts(
            {
                "standard_name": "time",
                "axis": "T",
                "bounds": "time_bnds",
                "units": TIME_UNITS,
                "calendar": CALENDAR,
            }
        )
        v[:] = cftime.date2num(list(ds["time"].values), TIME_UNITS, calendar=CALENDAR)
        nc.createVariable("time_bnds", "f8", ("time", "bnds"))[:] = ds["time_bnds"].values
        for name, attrs in (("lat", LAT_ATTRS), ("lon", LON_ATTRS)):
            v = nc.createVariable(name, "f8", (name,))
            v.setncatts({**attrs, "bounds": f"{name}_bnds"})
            v[:] = ds[name].values
            nc.createVariable(f"{name}_bnds", "f8", (name, "bnds"))[:] = ds[f"{name}_bnds"].values
        tas = nc.createVariable(
            "tas",
            "f4",
            ("member", "time", "lat", "lon"),
            zlib=True,
            complevel=1,
            shuffle=True,
            chunksizes=(1, min(12, nt), nlat, nlon),
        )
        tas.setncatts(TAS_ATTRS)
        for i, (k, data) in enumerate(fields):
            nc["member"][i] = k
            tas[i] = data
            if progress is not None:
                progress(i + 1, total)


def _write_zarr(path: Path, ds: xr.Dataset, fields, total: int, progress) -> None:
    nt, nlat, nlon = ds.sizes["time"], ds.sizes["lat"], ds.sizes["lon"]
    enc = {
        "tas": {"chunks": (1, min(12, nt), nlat, nlon), "dtype": "float32"},
        "time": {"units": TIME_UNITS, "calendar": CALENDAR, "dtype": "float64"},
        **{name: {"_FillValue": None} for name in ("lat", "lon", "lat_bnds", "lon_bnds", "time_bnds")},
    }
    for i, (k, data) in enumerate(fields):
        one = ds.isel(member=[0]).assign_coords(
            member=("member", np.array([k], np.int32), dict(MEMBER_ATTRS))
        )
        one["tas"] = (("member", "time", "lat", "lon"), data[None], dict(TAS_ATTRS))
        if i == 0:  # Zarr v2 with consolidated metadata, as climviz.data.io.write_dataset
            one.to_zarr(path, mode="w", encoding=enc, zarr_format=2, consolidated=True)
        else:
            one[["tas"]].to_zarr(path, append_dim="member", zarr_format=2, consolidated=True)
        if progress is not None:
            progress(i + 1, total)


@contextlib.contextmanager
def _no_cyclic_gc():
    """Collect garbage now, in this thread, and not again until the block ends.

    libnetcdf is not thread-safe: a cyclic collection triggered by the worker
    thread can run ``__del__`` of some unclosed xarray dataset there and close
    its file while this thread writes ours (seen as a segfault in the tests).
    """
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def write_toy_ensemble(
    path,
    members: int | Sequence[int] = 30,
    start: int = 1850,
    end: int = 2005,
    grid: tuple[int, int] = DEFAULT_GRID,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    *,
    params: ToyEnsembleParams = DEFAULT_PARAMS,
) -> Path:
    """Write the synthetic ensemble to ``path`` (``.nc`` NetCDF-4 or ``.zarr``), atomically, member by member.

    The next member is computed in a worker thread while the current one is
    compressed and written; ``progress(done, total)`` is called after each
    member is written. On any error (including one raised by ``progress``)
    nothing is left at ``path``. Returns ``Path(path)``.
    """
    from climviz.data.io import atomic_path, output_format

    fmt = output_format(path)
    ks = _member_list(members)
    nlat, nlon = _check_grid(grid)
    start, end = int(start), int(end)
    _check_period(start, end)
    nt = 12 * (end - start + 1)
    template = _dataset(
        np.broadcast_to(np.float32(0), (1, nt, nlat, nlon)), ks[:1], start, end, (nlat, nlon), seed, params
    )

    def make(k: int) -> np.ndarray:
        return member_field(k, start=start, end=end, grid=(nlat, nlon), seed=seed, params=params)

    with atomic_path(path) as tmp, _no_cyclic_gc(), ThreadPoolExecutor(max_workers=1) as pool:

        def fields():
            fut = pool.submit(make, ks[0])
            for i, k in enumerate(ks):
                data = fut.result()
                if i + 1 < len(ks):
                    fut = pool.submit(make, ks[i + 1])
                yield k, data
                del data

        writer = _write_netcdf if fmt == "netcdf" else _write_zarr
        writer(tmp, template, fields(), len(ks), progress)
    return Path(path)
