"""The CF loader: every layout a user may hand us comes out in the canonical form.

The reference is built directly in canonical form with NumPy; each test
rearranges it the way real files do (descending latitude, -180..180
longitude, degC, other dim names, several files) and checks that the loader
undoes exactly that.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import cftime
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from climviz.data.grid import CANONICAL_DIMS
from climviz.data.loader import DataError, canonicalize, open_ensemble, open_run


def mid_months(n: int, year: int = 2000, calendar: str = "proleptic_gregorian") -> np.ndarray:
    return np.array(
        [cftime.datetime(year + m // 12, m % 12 + 1, 15, calendar=calendar) for m in range(n)], dtype=object
    )


def reference(nmember=2, ntime=3, nlat=4, nlon=8, seed=0) -> xr.DataArray:
    """A canonical ensemble: K, float32, lat ascending, lon in [0, 360)."""
    rng = np.random.default_rng(seed)
    data = (250.0 + 50.0 * rng.random((nmember, ntime, nlat, nlon))).astype(np.float32)
    lat = np.linspace(-90 + 90 / nlat, 90 - 90 / nlat, nlat)
    lon = np.arange(nlon) * 360.0 / nlon
    return xr.DataArray(
        data,
        dims=CANONICAL_DIMS,
        name="tas",
        coords={"member": np.arange(nmember), "time": mid_months(ntime), "lat": lat, "lon": lon},
        attrs={"units": "K", "standard_name": "air_temperature"},
    )


def assert_canonical_equal(out: xr.DataArray, ref: xr.DataArray, atol=0.0) -> None:
    assert out.dims == CANONICAL_DIMS
    assert out.dtype == np.float32
    assert out.name == "tas" and out.attrs["units"] == "K"
    for dim in ("member", "lat", "lon"):
        np.testing.assert_allclose(out[dim].values, ref[dim].values, atol=1e-9)
    assert list(out.time.values) == list(ref.time.values)
    np.testing.assert_allclose(out.values, ref.values, atol=atol, rtol=0)


def as_file(ref: xr.DataArray, **attrs) -> xr.Dataset:
    """``ref`` as a CF Dataset: member dim dropped when single, attrs added."""
    da = ref.isel(member=0, drop=True) if ref.sizes["member"] == 1 else ref
    da = da.copy()
    da.attrs.update(attrs)
    return da.to_dataset()


# ----------------------------------------------------------------------------- layouts


def test_canonical_input_passes_through_unchanged():
    ref = reference()
    out = canonicalize(ref)
    assert_canonical_equal(out, ref)
    assert "history" not in out.attrs  # nothing was changed, nothing is claimed


@pytest.mark.parametrize("name", ["member", "realization", "ensemble", "ens", "number"])
def test_member_dim_names_become_member(name):
    ref = reference(nmember=3)
    ds = ref.rename(member=name).assign_coords({name: [4, 5, 6]}).to_dataset()
    out = canonicalize(ds)
    assert out.dims == CANONICAL_DIMS
    assert out.member.values.tolist() == [4, 5, 6]  # labels kept
    np.testing.assert_array_equal(out.values, ref.values)


def test_no_member_dim_gets_member_zero():
    ref = reference(nmember=1)
    out = canonicalize(as_file(ref))
    assert out.sizes["member"] == 1 and out.member.values.tolist() == [0]
    assert_canonical_equal(out, ref)


def test_latitude_longitude_names_descending_lat_and_180_lon():
    ref = reference(nmember=1, nlat=6, nlon=12)
    ds = as_file(ref)
    # descending latitude, longitudes -180..150 (the western half first)
    ds = ds.isel(lat=slice(None, None, -1)).roll(lon=6, roll_coords=True)
    ds = ds.assign_coords(lon=((ds.lon + 180) % 360) - 180)
    assert ds.lon.values[0] == -180 and ds.lat.values[0] > ds.lat.values[-1]
    ds = ds.rename(lat="latitude", lon="longitude")
    out = canonicalize(ds)
    assert_canonical_equal(out, ref)
    assert "latitude flipped" in out.attrs["history"] and "wrapped" in out.attrs["history"]


@pytest.mark.parametrize("unit", ["degC", "C", "celsius", "deg_C", "degrees_C", "°C"])
def test_celsius_is_converted_to_kelvin(unit):
    ref = reference()
    ds = (ref - 273.15).assign_attrs(units=unit).to_dataset(name="tas")
    out = canonicalize(ds)
    assert_canonical_equal(out, ref, atol=1e-4)


@pytest.mark.parametrize("unit", ["K", "degK", "kelvin", "deg_K"])
def test_kelvin_spellings_are_unchanged(unit):
    ref = reference()
    out = canonicalize(ref.assign_attrs(units=unit))
    assert_canonical_equal(out, ref)


def test_target_units_degc():
    ref = reference()
    out = canonicalize(ref, units="degC")
    assert out.attrs["units"] == "degC"
    np.testing.assert_allclose(out.values, ref.values - 273.15, atol=1e-4)


def test_cf_attributes_find_unconventional_names():
    """Dims ``y``/``x``/``valid_time`` found by axis, units and standard_name (cf_xarray)."""
    ref = reference(nmember=1)
    ds = as_file(ref).rename(lat="y", lon="x", time="valid_time")
    ds["y"].attrs.update(axis="Y", units="degrees_north")
    ds["x"].attrs.update(standard_name="longitude", units="degrees_east")
    ds["valid_time"].attrs.update(standard_name="time")
    assert_canonical_equal(canonicalize(ds), ref)


def test_one_d_coordinates_along_other_dims_are_used():
    """Dims ``(time, y, x)`` with 1-D coords ``lat(y)``, ``lon(x)``."""
    ref = reference(nmember=1)
    ds = as_file(ref).rename_dims(lat="y", lon="x")
    assert ds.tas.dims == ("time", "y", "x")
    assert_canonical_equal(canonicalize(ds), ref)


def test_cyclic_longitude_column_is_dropped():
    ref = reference(nmember=1)
    ds = as_file(ref)
    cyc = xr.concat([ds, ds.isel(lon=[0]).assign_coords(lon=[360.0])], dim="lon")
    assert_canonical_equal(canonicalize(cyc), ref)


def test_datetime64_and_numeric_times_become_cftime():
    ref = reference(nmember=1, ntime=3)
    ds = as_file(ref)
    as_np = ds.assign_coords(
        time=np.array(["2000-01-15", "2000-02-15", "2000-03-15"], dtype="datetime64[ns]")
    )
    assert_canonical_equal(canonicalize(as_np), ref)
    days = [(datetime.date(2000, m, 15) - datetime.date(1850, 1, 1)).days for m in (1, 2, 3)]
    raw = ds.assign_coords(
        time=("time", days, {"units": "days since 1850-01-01", "calendar": "proleptic_gregorian"})
    )
    assert_canonical_equal(canonicalize(raw), ref)


def test_noleap_calendar_is_kept():
    ref = reference(nmember=1)
    ds = as_file(ref).assign_coords(time=mid_months(3, calendar="noleap"))
    out = canonicalize(ds)
    assert out.time.values[0].calendar == "noleap"


def test_attrs_and_provenance_kept():
    ref = reference(nmember=1)
    ds = as_file(ref, cell_methods="time: mean", actual_range=[0.0, 1.0])
    ds.attrs.update(institution="MPI-M", source="MPI-ESM1.1")
    out = canonicalize(ds, source="some/file.nc")
    assert out.attrs["cell_methods"] == "time: mean"
    assert out.attrs["institution"] == "MPI-M" and out.attrs["source"] == "MPI-ESM1.1"
    assert out.attrs["source_file"] == "some/file.nc"
    assert "actual_range" not in out.attrs  # described the stored values, not ours


def test_other_variable_is_renamed_tas_and_remembered():
    ref = reference(nmember=1)
    ds = as_file(ref).rename(tas="t2m")
    ds["t2m"].attrs["standard_name"] = "air_temperature"
    ds["time_bnds"] = (("time", "bnds"), np.zeros((3, 2)))
    out = canonicalize(ds)
    assert out.name == "tas" and out.attrs["source_variable"] == "t2m"


def test_partial_nans_are_allowed():
    ref = reference()
    ref[:, :, 0, :3] = np.nan  # "land"
    out = canonicalize(ref)
    assert int(out.isnull().sum()) == 2 * 3 * 3


def test_regional_grid_allowed_unless_global_required():
    ref = reference(nmember=1, nlon=16).isel(lon=slice(2, 6))
    out = canonicalize(ref)
    assert out.lon.values.tolist() == [45.0, 67.5, 90.0, 112.5]
    with pytest.raises(DataError, match="global grid is required"):
        canonicalize(ref, require_global=True)


# ----------------------------------------------------------------------------- property tests


@st.composite
def layouts(draw):
    nmember = draw(st.integers(1, 3))
    nlat = draw(st.integers(2, 6))
    nlon = draw(st.integers(2, 9))
    ref = reference(
        nmember=nmember, ntime=draw(st.integers(1, 3)), nlat=nlat, nlon=nlon, seed=draw(st.integers(0, 2**16))
    )
    return (
        ref,
        draw(st.permutations(range(nlat))),
        draw(st.permutations(range(nlon))),
        draw(st.integers(-2, 2)),
        draw(st.booleans()),
        draw(st.sampled_from(["member", "realization", "ensemble", "ens", "number", None])),
        draw(st.sampled_from(["lat", "latitude"])),
        draw(st.sampled_from(["lon", "longitude"])),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts())
def test_any_rearrangement_gives_the_reference(layout):
    """Shuffled lat, lon shifted by whole turns and permuted, degC, renamed dims."""
    ref, lat_perm, lon_perm, turns, celsius, mdim, latname, lonname = layout
    data = ref.values[:, :, lat_perm][:, :, :, lon_perm]
    lon = ref.lon.values[lon_perm] + 360.0 * turns
    lon = np.where(lon >= 180 + 360.0 * turns, lon - 360.0, lon)  # mix of turns
    units = "K"
    if celsius:
        data, units = data - np.float32(273.15), "degC"
    da = xr.DataArray(
        data,
        dims=("member", "time", latname, lonname),
        name="tas",
        coords={
            "member": ref.member.values,
            "time": ref.time.values,
            latname: ref.lat.values[lat_perm],
            lonname: lon,
        },
        attrs={"units": units},
    )
    if mdim is None:
        da = da.isel(member=0, drop=True) if ref.sizes["member"] == 1 else da
    elif mdim != "member":
        da = da.rename(member=mdim)
    out = canonicalize(da.to_dataset())
    assert_canonical_equal(out, ref, atol=1e-4 if celsius else 0.0)


# ----------------------------------------------------------------------------- bad input


def _bad(ds, match, **kwargs):
    with pytest.raises(DataError, match=match):
        canonicalize(ds, **kwargs)


def test_missing_dimension_names_what_was_found():
    ds = as_file(reference(nmember=1)).isel(lat=0, drop=True)
    _bad(ds, r"no lat dimension; found dims \('time', 'lon'\)")


def test_variable_choice_errors():
    ref = reference(nmember=1)
    ds = as_file(ref).rename(tas="a")
    ds["b"] = ds["a"] + 1
    _bad(ds, r"several data variables .*\['a', 'b'\]")
    _bad(ds, r"no variable 'zz' .*\['a', 'b'\]", var="zz")
    assert canonicalize(ds, var="b").attrs["source_variable"] == "b"


@pytest.mark.parametrize(
    "problem, match",
    [
        ("all_nan", "all NaN"),
        ("inf", "infinite values"),
        ("dup_lat", "duplicate latitude values"),
        ("dup_lon", "duplicate longitude values"),
        ("lat_range", r"unsupported grid.*latitudes outside \[-90, 90\]"),
        ("uneven_lon", "unsupported grid.*not evenly spaced"),
        ("one_lat", r"unsupported grid.*1 lat point"),
        ("units", "unsupported units 'm s-1'"),
        ("no_units", "no units attribute"),
        ("dup_time", "duplicate time values"),
        ("time_order", "not monotonically increasing"),
        ("extra_dim", r"extra dimensions \['plev\(2\)'\]"),
        ("implausible", "implausible temperatures"),
        ("two_members_dims", "several member dims"),
    ],
)
def test_bad_input_is_named(problem, match):
    ref = reference(nmember=1, ntime=3, nlat=4, nlon=8)
    da = ref.isel(member=0, drop=True).copy()
    if problem == "all_nan":
        da[:] = np.nan
    elif problem == "inf":
        da[0, 0, 0] = np.inf
    elif problem == "dup_lat":
        da = da.assign_coords(lat=[-10.0, 0.0, 0.0, 10.0])
    elif problem == "dup_lon":
        da = da.assign_coords(lon=da.lon.values - np.r_[0, 0, 0, 0, 0, 0, 0, 360.0 - 45.0])
    elif problem == "lat_range":
        da = da.assign_coords(lat=[-100.0, 0.0, 10.0, 20.0])
    elif problem == "uneven_lon":
        da = da.assign_coords(lon=[0.0, 45, 90, 135, 180, 225, 270, 300])
    elif problem == "one_lat":
        da = da.isel(lat=[0])
    elif problem == "units":
        da.attrs["units"] = "m s-1"
    elif problem == "no_units":
        del da.attrs["units"]
    elif problem == "dup_time":
        da = da.assign_coords(time=da.time.values[[0, 1, 1]])
    elif problem == "time_order":
        da = da.assign_coords(time=da.time.values[[0, 2, 1]])
    elif problem == "extra_dim":
        da = xr.concat([da, da], dim="plev")
    elif problem == "implausible":
        da.attrs["units"] = "degC"  # values are really K
    elif problem == "two_members_dims":
        da = da.expand_dims(realization=2, member=2)
    _bad(da.to_dataset(name="tas"), match)


def test_curvilinear_grid_is_unsupported():
    ref = reference(nmember=1)
    ds = as_file(ref).rename(lat="y", lon="x").drop_vars(["y", "x"])
    lat2d, lon2d = np.meshgrid(ref.lat.values, ref.lon.values, indexing="ij")
    ds = ds.assign_coords(
        nav_lat=(("y", "x"), lat2d, {"standard_name": "latitude"}),
        nav_lon=(("y", "x"), lon2d, {"standard_name": "longitude"}),
    )
    _bad(ds, "unsupported grid.*curvilinear")


# ----------------------------------------------------------------------------- files


def test_netcdf_file_opens_lazily(tmp_path):
    ref = reference(nmember=3)
    path = tmp_path / "ens.nc"
    ref.rename(member="realization").to_dataset().to_netcdf(path)
    out = open_ensemble(path)
    assert out.chunks is not None  # Dask-backed, not loaded
    assert out.attrs["source_file"] == str(path)
    assert_canonical_equal(out.load(), ref)
    out2 = open_ensemble(str(path), chunks={"time": 1})
    assert out2.chunks[1] == (1, 1, 1)


def test_files_along_member(tmp_path):
    ref = reference(nmember=3)
    for m in range(3):  # one run per file, no member dim: renumbered in name order
        as_file(ref.isel(member=[m])).to_netcdf(tmp_path / f"run{m}.nc")
    out = open_ensemble(str(tmp_path / "run*.nc"))
    assert_canonical_equal(out.load(), ref)
    out = open_ensemble([tmp_path / "run2.nc", tmp_path / "run0.nc"])
    assert out.sizes["member"] == 2
    np.testing.assert_array_equal(out.values[1], ref.values[2])


def test_files_along_member_keep_distinct_labels(tmp_path):
    ref = reference(nmember=4).assign_coords(member=[1, 2, 3, 4])
    ref.isel(member=[0, 1]).to_dataset().to_netcdf(tmp_path / "a.nc")
    ref.isel(member=[2, 3]).to_dataset().to_netcdf(tmp_path / "b.nc")
    out = open_ensemble([tmp_path / "a.nc", tmp_path / "b.nc"])
    assert_canonical_equal(out.load(), ref)


def test_files_along_time_in_any_order(tmp_path):
    ref = reference(nmember=2, ntime=6)
    ref.isel(time=slice(0, 2)).to_dataset().to_netcdf(tmp_path / "p1.nc")
    ref.isel(time=slice(2, 6)).to_dataset().to_netcdf(tmp_path / "p0.nc")  # names mislead
    out = open_ensemble([tmp_path / "p0.nc", tmp_path / "p1.nc"])
    assert_canonical_equal(out.load(), ref)


def test_files_along_member_and_time(tmp_path):
    ref = reference(nmember=2, ntime=4)
    for m in range(2):
        for k, sl in enumerate([slice(0, 2), slice(2, 4)]):
            as_file(ref.isel(member=[m], time=sl)).to_netcdf(tmp_path / f"r{m}_{k}.nc")
    out = open_ensemble(sorted(tmp_path.glob("r*.nc")))
    assert_canonical_equal(out.load(), ref)


def test_overlapping_files_and_different_grids_are_errors(tmp_path):
    ref = reference(nmember=1, ntime=4)
    as_file(ref.isel(time=slice(0, 3))).to_netcdf(tmp_path / "a.nc")
    as_file(ref.isel(time=slice(2, 4))).to_netcdf(tmp_path / "b.nc")
    with pytest.raises(DataError, match="a.nc .* overlaps b.nc"):
        open_ensemble([tmp_path / "a.nc", tmp_path / "b.nc"])
    as_file(reference(nmember=1, ntime=4, nlat=6)).to_netcdf(tmp_path / "c.nc")
    with pytest.raises(DataError, match=r"grid of .*c.nc \(6x8\) differs"):
        open_ensemble([tmp_path / "a.nc", tmp_path / "c.nc"])


@pytest.mark.parametrize("zarr_format, consolidated", [(2, True), (3, False)])
def test_zarr_store(tmp_path, zarr_format, consolidated):
    ref = reference(nmember=2)
    ds = ref.isel(lat=slice(None, None, -1)).to_dataset()
    ds.to_zarr(tmp_path / "ens.zarr", mode="w", zarr_format=zarr_format, consolidated=consolidated)
    out = open_ensemble(tmp_path / "ens.zarr")
    assert out.chunks is not None
    assert_canonical_equal(out.load(), ref)


def test_unreadable_sources_name_the_file(tmp_path):
    with pytest.raises(DataError, match="file not found: .*nope.nc"):
        open_ensemble(tmp_path / "nope.nc")
    with pytest.raises(DataError, match="no files match"):
        open_ensemble(str(tmp_path / "*.nc"))
    junk = tmp_path / "junk.nc"
    junk.write_text("not a netcdf file")
    with pytest.raises(DataError, match="cannot read .*junk.nc"):
        open_ensemble(junk)
    months = tmp_path / "months.nc"
    as_file(reference(nmember=1)).assign_coords(
        time=("time", [0, 1, 2], {"units": "months since 1850-01-01"})
    ).to_netcdf(months)
    with pytest.raises(DataError, match="cannot decode the times in .*months.nc"):
        open_ensemble(months)
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="folder is a directory but not a Zarr store"):
        open_ensemble(tmp_path / "folder")


@pytest.mark.parametrize("fmt", ["NETCDF4", "NETCDF3_CLASSIC", "NETCDF3_64BIT"])
def test_truncated_netcdf_is_an_error_naming_the_file(tmp_path, fmt):
    path = tmp_path / f"cut_{fmt}.nc"
    as_file(reference(nmember=1, ntime=4, nlat=8, nlon=16)).to_netcdf(path, format=fmt)
    whole = open_ensemble(path)  # whole, it reads; the handle stays open on purpose:
    with open(path, "r+b") as fh:  # HDF5 would serve the old contents through it
        fh.truncate(path.stat().st_size // 2)
    with pytest.raises(DataError, match=f"{path.name}.*(truncated|corrupt)"):
        open_ensemble(path)
    assert whole.sizes["time"] == 4


# ----------------------------------------------------------------------------- member selection


def test_member_selection_by_label_and_position():
    ref = reference(nmember=4).assign_coords(member=[1, 2, 3, 4])
    out = open_ensemble(ref, member=[2, 4])
    assert out.member.values.tolist() == [2, 4]
    np.testing.assert_array_equal(out.values, ref.values[[1, 3]])
    assert open_ensemble(ref, member=3).sizes["member"] == 1
    with pytest.raises(DataError, match=r"member 0 not found.*\[1, 2, 3, 4\]"):
        open_ensemble(ref, member=0)
    named = ref.assign_coords(member=["r1", "r2", "r3", "r4"])
    assert open_ensemble(named, member=0).member.values.tolist() == ["r1"]
    assert open_ensemble(named, member="r3").member.values.tolist() == ["r3"]


def test_open_run(tmp_path):
    ref = reference(nmember=3)
    single = tmp_path / "run.nc"
    as_file(ref.isel(member=[1])).to_netcdf(single)
    run = open_run(single)
    assert run.dims == ("time", "lat", "lon")
    np.testing.assert_array_equal(run.values, ref.values[1])
    run = open_run(ref, member=2)
    assert run.dims == ("time", "lat", "lon") and int(run.member) == 2
    np.testing.assert_array_equal(run.values, ref.values[2])
    with pytest.raises(DataError, match="holds 3 members"):
        open_run(ref)
    with pytest.raises(DataError, match="one member"):
        open_run(ref, member=[0, 1])


# ----------------------------------------------------------------------------- real data


def hadisst_path() -> Path:
    cartopy = pytest.importorskip("cartopy")
    path = Path(cartopy.__file__).parent / "data" / "netcdf" / "HadISST1_SST_update.nc"
    if not path.exists():
        pytest.skip(f"{path} not shipped with this cartopy")
    return path


@pytest.mark.filterwarnings("ignore:Ambiguous reference date string")  # the file's "1-1-1"
def test_real_hadisst_sst():
    """HadISST August 2012: degC, land as _FillValue -1e30, sea ice -1.8 degC, lat N->S."""
    path = hadisst_path()
    raw = xr.open_dataset(path, mask_and_scale=False).sst
    assert raw.attrs["units"] == "degC" and raw.attrs["_FillValue"] == -1e30
    n_land = int((raw == -1e30).sum())
    out = open_ensemble(path, var="sst").load()
    assert out.shape == (1, 1, 180, 360)
    assert out.attrs["units"] == "K" and out.attrs["standard_name"] == "sea_surface_temperature"
    assert np.all(np.diff(out.lat) > 0) and out.lat[0] == -89.5
    assert out.lon.min() >= 0 and out.lon.max() < 360 and np.all(np.diff(out.lon) > 0)
    assert int(out.isnull().sum()) == n_land > 10000  # land masked, nothing else
    assert float(out.min()) == pytest.approx(273.15 - 1.8, abs=1e-3)  # sea-ice water
    assert float(out.max()) < 273.15 + 35
    nino34 = out.sel(lat=slice(-5, 5), lon=slice(190, 240)).mean()
    assert 299 < float(nino34) < 303
    # the same point before and after: 0.5N, 150.5W is lon 209.5
    before = float(raw.sel(lat=0.5, lon=-150.5).squeeze())
    assert float(out.sel(lat=0.5, lon=209.5).squeeze()) == pytest.approx(before + 273.15, abs=1e-4)
