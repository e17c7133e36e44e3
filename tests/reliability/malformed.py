"""Malformed conditioning files, each with the message every entry point must give for it.

``build(directory)`` writes them and returns ``name -> Case``. ``Case.message`` is a
regex the one-line error of ``climviz generate`` and of the Python API must match;
``Case.upload`` the regex of the app's upload note (``None``: the same as ``message``).
All are built from the good run of :func:`toy_inputs.toy_tas` by one change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import netCDF4
import numpy as np
from toy_inputs import YEARS, grid_coords, toy_tas


@dataclass
class Case:
    path: Path
    message: str
    upload: str | None = None

    @property
    def upload_message(self) -> str:
        return self.upload or self.message


def _run(**kw):
    return toy_tas(members=1, seed=11, **kw).isel(member=0)


def _huge_member_claim(path: Path) -> None:
    """A valid NetCDF-4 header with a 10**9-member dimension and no data written (10 kB on disk)."""
    lat, lon = grid_coords()
    with netCDF4.Dataset(path, "w") as nc:
        for name, size in (("member", 10**9), ("time", 12), ("lat", lat.size), ("lon", lon.size)):
            nc.createDimension(name, size)
        v = nc.createVariable(
            "tas",
            "f4",
            ("member", "time", "lat", "lon"),
            chunksizes=(1, 12, lat.size, lon.size),
            fill_value=np.float32(280.0),
        )
        v.units = "K"
        t = nc.createVariable("time", "f8", ("time",))
        t.units, t.calendar = f"days since {YEARS[0]}-01-01", "proleptic_gregorian"
        t[:] = np.arange(12) * 30.0 + 14
        nc.createVariable("lat", "f8", ("lat",))[:] = lat
        nc.createVariable("lon", "f8", ("lon",))[:] = lon
        nc.createVariable("member", "i4", ("member",))  # index values never written


def build(d: Path) -> dict[str, Case]:
    d = Path(d)
    good = _run()
    cases: dict[str, Case] = {}

    def nc(name, da, message, upload=None, **kw):
        path = d / f"{name}.nc"
        da.to_dataset(name=da.name or "tas").to_netcdf(path, **kw)
        cases[name] = Case(path, message, upload)
        return path

    whole = nc("whole", good, "")
    cases.pop("whole")
    raw = whole.read_bytes()
    (d / "truncated.nc").write_bytes(raw[: len(raw) // 2])
    cases["truncated"] = Case(
        d / "truncated.nc",
        "is truncated or corrupt: the file has .* bytes but its HDF5 header says it ends at byte",
    )
    for name, content in (
        ("random_bytes", os.urandom(4096)),
        ("empty", b""),
        ("csv_text", b"time,lat,lon,tas\n1990-01,0,0,280\n" * 20),
    ):
        (d / f"{name}.nc").write_bytes(content)
        cases[name] = Case(d / f"{name}.nc", "not a readable NetCDF file, or it is corrupt or truncated")
    classic = nc("classic", good, "", format="NETCDF3_64BIT")
    (d / "truncated_classic.nc").write_bytes(classic.read_bytes()[:-2000])
    cases.pop("classic")
    cases["truncated_classic"] = Case(d / "truncated_classic.nc", "truncated or corrupt")
    with h5py.File(d / "hdf5_without_variable.nc", "w") as f:
        f["pressure"] = np.arange(10.0)
    cases["hdf5_without_variable"] = Case(
        d / "hdf5_without_variable.nc", "has no time or lat or lon dimension"
    )

    nc("wrong_variable", good.rename("pr").assign_attrs(units="kg m-2 s-1"), "unsupported units 'kg m-2 s-1'")
    nc("missing_lat", good.isel(lat=0, drop=True), "has no lat dimension")
    nc("fahrenheit", (good * 1.8 - 459.67).assign_attrs(units="degF"), "unsupported units 'degF'")
    nc("kelvin_labelled_celsius", good.assign_attrs(units="degC"), "implausible temperatures")
    bare = good.copy()
    bare.attrs = {}
    nc("no_units", bare, "has no units attribute")
    nan = good.copy()
    nan[3, 2, 5] = np.nan
    nc("some_nan", nan, "contains NaN or infinite values", upload="missing \\(NaN\\) values")
    all_nan = good.copy(data=np.full(good.shape, np.nan, np.float32))
    nc("all_nan", all_nan, "is all NaN")
    inf = good.copy()
    inf[0, 0, 0] = np.inf
    nc("inf", inf, "infinite values")
    nc(
        "grid_regional",
        good.isel(lon=slice(0, 6)),
        "longitudes 0 to 112.5 cover 135 of 360 degrees "
        r"\(a regional grid, missing the periodic longitude\)",
    )
    uneven = good["lat"].values + np.r_[0.0, 3.0, 0.0, 0.0, -4.0, 0.0, 0.0, 0.0]
    nc("grid_uneven_lat", good.assign_coords(lat=uneven), "latitudes .* are unevenly spaced and not Gaussian")
    nc(
        "time_not_dates",
        good.assign_coords(time=np.arange(good.sizes["time"], dtype=float)),
        "time in .* is not a date",
    )
    _huge_member_claim(d / "huge_member_claim.nc")
    cases["huge_member_claim"] = Case(d / "huge_member_claim.nc", "implausible size .*'member': 1000000000")
    return cases
