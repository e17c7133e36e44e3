"""Property tests of the loader: any order of dims and coordinates, any spelling of K or degC,
any time encoding, in memory or through a NetCDF file, gives back the same canonical array.

The reference is built directly in canonical form with NumPy; each example
scrambles it the ways files do and the loader must undo exactly that.
"""

from __future__ import annotations

import cftime
import numpy as np
import pandas as pd
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from climviz.data.grid import CANONICAL_DIMS
from climviz.data.loader import canonicalize, open_ensemble

KELVIN = ["K", "k", "kelvin", "Kelvin", "KELVIN", "degK", "deg_K", "degrees_K", "degree_Kelvin", "deg K"]
CELSIUS = ["degC", "C", "celsius", "Celsius", "deg_C", "degrees_C", "degree_Celsius", "°C", "deg C", "DEGC"]


def _reference(nmember, ntime, nlat, nlon, seed) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    time = np.array([cftime.DatetimeProlepticGregorian(1990 + m // 12, m % 12 + 1, 15) for m in range(ntime)])
    return xr.DataArray(
        (250 + 50 * rng.random((nmember, ntime, nlat, nlon))).astype(np.float32),
        dims=CANONICAL_DIMS,
        name="tas",
        attrs={"units": "K"},
        coords={
            "member": np.arange(nmember),
            "time": time,
            "lat": np.linspace(-90 + 90 / nlat, 90 - 90 / nlat, nlat),
            "lon": np.arange(nlon) * 360.0 / nlon,
        },
    )


@st.composite
def scrambles(draw):
    shape = (
        draw(st.integers(1, 3)),
        draw(st.integers(1, 4)),
        draw(st.integers(2, 5)),
        draw(st.integers(2, 8)),
    )
    return dict(
        ref=_reference(*shape, seed=draw(st.integers(0, 2**16))),
        order=draw(st.permutations(CANONICAL_DIMS)),
        flip_lat=draw(st.booleans()),
        roll=draw(st.integers(0, shape[3] - 1)),
        lon180=draw(st.booleans()),
        celsius=draw(st.booleans()),
        unit=draw(st.sampled_from(range(len(KELVIN)))),
        time=draw(st.sampled_from(["cftime", "datetime64", "numeric"])),
        via_file=draw(st.booleans()),
    )


def _scramble(s) -> xr.Dataset:
    ref = s["ref"]
    da = ref.isel(lat=slice(None, None, -1)) if s["flip_lat"] else ref
    da = da.roll(lon=s["roll"], roll_coords=True)
    if s["lon180"]:
        da = da.assign_coords(lon=np.where(da["lon"] >= 180, da["lon"] - 360, da["lon"]))
    if s["celsius"]:
        da = (da - np.float32(273.15)).assign_attrs(units=CELSIUS[s["unit"]])
    else:
        da = da.assign_attrs(units=KELVIN[s["unit"]])
    times = ref["time"].values
    if s["time"] == "datetime64":
        da = da.assign_coords(time=pd.DatetimeIndex([f"{t.year}-{t.month:02d}-15" for t in times]).values)
    elif s["time"] == "numeric":
        days = cftime.date2num(times, "days since 1850-01-01", calendar="proleptic_gregorian")
        da = da.assign_coords(
            time=("time", days, {"units": "days since 1850-01-01", "calendar": "proleptic_gregorian"})
        )
    return da.transpose(*s["order"]).to_dataset()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scrambles())
def test_any_scramble_gives_the_reference(tmp_path, s):
    ds = _scramble(s)
    if s["via_file"]:
        path = tmp_path / f"x{np.random.default_rng().integers(1 << 30)}.nc"
        ds.to_netcdf(path)
        out = open_ensemble(path).load()
        path.unlink()
    else:
        out = canonicalize(ds)
    ref = s["ref"]
    assert out.dims == CANONICAL_DIMS and out.dtype == np.float32 and out.attrs["units"] == "K"
    np.testing.assert_allclose(out["lat"].values, ref["lat"].values, atol=1e-9)
    np.testing.assert_allclose(out["lon"].values, ref["lon"].values, atol=1e-9)
    assert list(out["time"].values) == list(ref["time"].values)
    np.testing.assert_allclose(out.values, ref.values, atol=1e-4 if s["celsius"] else 0.0, rtol=0)
