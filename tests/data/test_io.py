"""Writers: atomic (nothing half-written), project encodings, round trips."""

from __future__ import annotations

import datetime

import cftime
import netCDF4
import numpy as np
import pytest
import xarray as xr

from climviz.data.io import atomic_path, output_format, write_dataset
from climviz.data.loader import open_ensemble


def tiny(calendar="proleptic_gregorian", ntime=3) -> xr.DataArray:
    rng = np.random.default_rng(1)
    time = [cftime.datetime(2000, m + 1, 15, calendar=calendar) for m in range(ntime)]
    return xr.DataArray(
        (270 + 30 * rng.random((2, ntime, 4, 8))).astype(np.float64),
        dims=("member", "time", "lat", "lon"),
        name="tas",
        coords={"member": [0, 1], "time": time, "lat": [-60.0, -20, 20, 60], "lon": np.arange(8) * 45.0},
        attrs={"units": "K", "standard_name": "air_temperature"},
    )


def test_output_format():
    assert output_format("a/b.nc") == "netcdf" and output_format("x.NC4") == "netcdf"
    assert output_format("s.zarr") == "zarr"
    with pytest.raises(ValueError, match="cannot tell the output format"):
        output_format("a.csv")


# ----------------------------------------------------------------------------- atomic_path


def test_exception_inside_leaves_no_target_and_no_temp(tmp_path):
    target = tmp_path / "out.nc"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a file")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_exception_inside_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.nc"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"new, half")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_exception_inside_removes_a_temp_directory(tmp_path):
    target = tmp_path / "store.zarr"
    with pytest.raises(OSError):
        with atomic_path(target) as tmp:
            (tmp / "sub").mkdir(parents=True)
            (tmp / "sub" / "chunk").write_bytes(b"x")
            raise OSError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_success_replaces_file_and_directory(tmp_path):
    target = tmp_path / "out.nc"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    store = tmp_path / "s.zarr"
    (store / "old").mkdir(parents=True)
    with atomic_path(store) as tmp:
        (tmp / "new").mkdir(parents=True)
    assert [p.name for p in store.iterdir()] == ["new"]
    with atomic_path(target) as tmp:  # a directory where a file was
        tmp.mkdir()
    assert target.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc", "s.zarr"]


# ----------------------------------------------------------------------------- write_dataset


@pytest.mark.parametrize("calendar", ["proleptic_gregorian", "noleap"])
def test_netcdf_encoding(tmp_path, calendar):
    da = tiny(calendar)
    path = write_dataset(da, tmp_path / "t.nc")
    with netCDF4.Dataset(path) as nc:
        tas, time = nc["tas"], nc["time"]
        assert tas.dtype == np.float32
        filters = tas.filters()
        assert filters["zlib"] and filters["complevel"] == 1
        assert time.units == "days since 1850-01-01" and time.calendar == calendar
        if calendar == "proleptic_gregorian":  # an independent count of days
            start = datetime.date(1850, 1, 1)
            want = [(datetime.date(2000, m, 15) - start).days for m in (1, 2, 3)]
        else:  # 365-day years, no leap days
            want = [150 * 365 + d for d in (14, 45, 73)]
        np.testing.assert_array_equal(time[:], want)
        assert "_FillValue" not in nc["lat"].ncattrs()
        np.testing.assert_allclose(tas[:], da.values.astype(np.float32))
    back = xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    assert list(back.time.values) == list(da.time.values)
    back.close()


def test_stale_source_encoding_is_dropped(tmp_path):
    """Packed int16 degC in, K out: the old scale/offset/dtype must not be reused."""
    src = tmp_path / "packed.nc"
    degc = (tiny() - 273.15).assign_attrs(units="degC")
    degc.to_dataset().to_netcdf(
        src,
        encoding={
            "tas": {
                "dtype": "int16",
                "scale_factor": 0.01,
                "add_offset": 0.0,
                "_FillValue": -32767,
                "chunksizes": (1, 1, 4, 8),
            }
        },
    )
    canon = open_ensemble(src)
    out = write_dataset(canon, tmp_path / "k.nc")
    with netCDF4.Dataset(out) as nc:
        assert nc["tas"].dtype == np.float32 and "scale_factor" not in nc["tas"].ncattrs()
        np.testing.assert_allclose(nc["tas"][:], tiny().values, atol=0.006)


def test_user_encoding_overrides_defaults(tmp_path):
    path = write_dataset(tiny(), tmp_path / "t.nc", encoding={"tas": {"complevel": 4}})
    with netCDF4.Dataset(path) as nc:
        assert nc["tas"].filters()["complevel"] == 4 and nc["tas"].dtype == np.float32


@pytest.mark.parametrize("calendar", ["proleptic_gregorian", "360_day"])
def test_zarr_round_trip_with_cftime_and_uneven_chunks(tmp_path, calendar):
    da = tiny(calendar).chunk({"lon": 3})
    da = da.isel(lon=[5, 6, 7, 0, 1, 2, 3, 4])  # uneven dask chunks, as after a lon wrap
    path = write_dataset(da, tmp_path / "t.zarr")
    back = xr.open_zarr(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    assert back.tas.dtype == np.float32
    assert back.time.encoding["units"] == "days since 1850-01-01"
    assert back.time.values[0].calendar == calendar
    assert list(back.time.values) == list(da.time.values)
    np.testing.assert_allclose(back.tas.values, da.values.astype(np.float32))


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_dataset(tiny(), tmp_path / "t.nc", encoding={"tas": {"no_such_key": 1}})
    assert list(tmp_path.iterdir()) == []
    target = tmp_path / "keep.nc"
    write_dataset(tiny(), target)
    before = target.read_bytes()
    with pytest.raises(ValueError):
        write_dataset(tiny().isel(lon=slice(0, 2)), target, encoding={"tas": {"bogus": 0}})
    assert target.read_bytes() == before and list(tmp_path.iterdir()) == [target]


def test_written_canonical_data_reads_back_identically(tmp_path):
    da = tiny().astype(np.float32)
    for name in ("t.nc", "t.zarr"):
        back = open_ensemble(write_dataset(da, tmp_path / name)).load()
        xr.testing.assert_equal(back, da)
