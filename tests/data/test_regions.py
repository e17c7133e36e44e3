import numpy as np
import pytest
import xarray as xr

from climviz.data.regions import REGIONS, Region, get_region


def _grid_1deg():
    lat = np.arange(-89.5, 90.0, 1.0)
    lon = np.arange(0.0, 360.0, 1.0)
    return lat, lon


@pytest.mark.parametrize("name", ["nino34", "NINO3.4", "Nino 3.4", "nino3.4"])
def test_nino34_aliases(name):
    r = get_region(name)
    assert r is REGIONS["Nino3.4"]
    assert (r.lat_min, r.lat_max, r.lon_min, r.lon_max) == (-5, 5, 190, 240)


def test_named_regions_boxes():
    assert (REGIONS["Nino3"].lon_min, REGIONS["Nino3"].lon_max) == (210, 270)
    assert REGIONS["Europe"].wraps and not REGIONS["North Atlantic"].wraps
    assert get_region("north atlantic") is REGIONS["North Atlantic"]
    assert get_region(REGIONS["Arctic"]) is REGIONS["Arctic"]


def test_custom_boxes_normalise_longitudes():
    a = get_region("-5,5,-170,-120")
    b = get_region((-5, 5, 190, 240))
    assert (a.lon_min, a.lon_max) == (b.lon_min, b.lon_max) == (190.0, 240.0)
    eu = get_region("35,72,-10,40")
    assert eu.wraps and (eu.lon_min, eu.lon_max) == (350.0, 40.0)
    na = get_region([0, 65, -80, 0])
    assert not na.wraps and (na.lon_min, na.lon_max) == (280.0, 360.0)
    glob = get_region((-90, 90, -180, 180))
    assert glob.is_global_lon


def test_mask_counts_on_wrapping_box():
    lat, lon = _grid_1deg()
    m = REGIONS["Europe"].mask(lat, lon)
    assert m.shape == (180, 360)
    cols = np.flatnonzero(m.any(axis=0))
    # 350..359 and 0..40 inclusive
    assert cols.size == 51 and m[:, 355].any() and m[:, 5].any() and not m[:, 180].any()
    rows = np.flatnonzero(m.any(axis=1))
    assert lat[rows].min() == 35.5 and lat[rows].max() == 71.5
    # the same mask from a -180..180 grid
    lon180 = np.where(lon >= 180, lon - 360, lon)
    np.testing.assert_array_equal(REGIONS["Europe"].mask(lat, lon180), m)


def test_select_wrapping_box_is_contiguous_and_matches_rolled_grid():
    lat, lon = _grid_1deg()
    rng = np.random.default_rng(1)
    da = xr.DataArray(
        rng.normal(size=(2, lat.size, lon.size)), dims=("time", "lat", "lon"), coords={"lat": lat, "lon": lon}
    )
    sub = REGIONS["Europe"].select(da)
    steps = np.mod(np.diff(sub.lon.values), 360.0)
    assert np.all(steps == 1.0) and sub.sizes["lon"] == 51
    # independent route: relabel to -180..180, sort, slice
    rolled = da.assign_coords(lon=np.where(lon >= 180, lon - 360, lon)).sortby("lon")
    ref = rolled.sel(lat=slice(35, 72), lon=slice(-10, 40))
    np.testing.assert_array_equal(sub.values, ref.values)
    mono = REGIONS["Europe"].select(da, monotonic_lon=True)
    np.testing.assert_array_equal(mono.lon.values, ref.lon.values)


@pytest.mark.parametrize(
    "box",
    [(-95, 10, 0, 10), (10, 10, 0, 10), (20, 10, 0, 10)],
)
def test_invalid_latitudes(box):
    with pytest.raises(ValueError, match="lat"):
        get_region(box)


def test_empty_selection_names_region_and_grid():
    lat, lon = _grid_1deg()
    da = xr.DataArray(np.zeros((lat.size, lon.size)), dims=("lat", "lon"), coords={"lat": lat, "lon": lon})
    r = Region("thin", 0.1, 0.4, 10, 20)
    with pytest.raises(ValueError, match=r"thin.*grid lat \[-89.5\.\.89.5, n=180\]"):
        r.select(da)


def test_unknown_region_and_bad_box():
    with pytest.raises(ValueError, match="unknown region"):
        get_region("Atlantis")
    with pytest.raises(ValueError, match="numbers"):
        get_region("a,b,c,d")
    with pytest.raises(ValueError, match="longitude"):
        Region("x", 0, 10, -10, 10)
