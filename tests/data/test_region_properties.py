"""Property tests of regions: random boxes, including ones across the dateline and 0E.

The reference is angular arithmetic, independent of how :class:`Region` stores
a box: a longitude is inside when its eastward distance from the western edge
(modulo 360) is at most the box's eastward width. Box edges sit on quarter
degrees and grid points on half degrees, so no point lies on an edge.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from climviz.data.regions import get_region

LAT = np.arange(-89.5, 90.0, 1.0)
LON = np.arange(0.5, 360.0, 1.0)


@st.composite
def boxes(draw):
    """``(lat_min, lat_max, west, east, width)``; west/east as a user may type them (0..360 or -180..180)."""
    quarter = st.integers(0, 4 * 359).map(
        lambda k: k / 4 + 0.25 / 2
    )  # x.125, x.375, ...: never on a grid point
    lat_a = draw(st.integers(-356, 355)) / 4 + 0.125
    lat_b = draw(st.integers(int((lat_a + 90) * 4) + 1, 4 * 180 - 1)) / 4 - 90 + 0.125
    west = draw(quarter)
    width = draw(st.integers(1, 4 * 359)) / 4  # 0.25 .. 359 degrees eastwards
    east = (west + width) % 360.0
    if draw(st.booleans()):  # the -180..180 convention for either edge
        west = west - 360.0 if west > 180.0 else west
    if draw(st.booleans()):
        east = east - 360.0 if east > 180.0 else east
    return lat_a, min(lat_b, 89.875), west, east, width


def _reference_mask(lat_min, lat_max, west, width, lat, lon):
    in_lat = (lat >= lat_min) & (lat <= lat_max)
    in_lon = np.mod(lon - west, 360.0) <= width
    return in_lat[:, None] & in_lon[None, :]


@settings(max_examples=150, deadline=None)
@given(boxes(), st.booleans())
def test_mask_matches_angular_reference(box, grid_180):
    lat_min, lat_max, west, east, width = box
    lon = np.where(LON > 180.0, LON - 360.0, LON) if grid_180 else LON
    region = get_region(f"{lat_min},{lat_max},{west},{east}")
    np.testing.assert_array_equal(
        region.mask(LAT, lon), _reference_mask(lat_min, lat_max, west, width, LAT, lon)
    )
    crosses_0e = np.mod(west, 360.0) + width > 360.0
    assert region.wraps == crosses_0e


@settings(max_examples=100, deadline=None)
@given(boxes(), st.booleans())
def test_select_is_the_mask_in_contiguous_order(box, grid_180):
    import xarray as xr

    lat_min, lat_max, west, east, width = box
    lon = np.where(LON > 180.0, LON - 360.0, LON) if grid_180 else LON
    da = xr.DataArray(
        np.arange(LAT.size * lon.size, dtype=float).reshape(LAT.size, lon.size),
        dims=("lat", "lon"),
        coords={"lat": LAT, "lon": lon},
    )
    region = get_region((lat_min, lat_max, west, east))
    mask = _reference_mask(lat_min, lat_max, west, width, LAT, lon)
    if not mask.any():  # a box between grid points
        with pytest.raises(ValueError, match="selects no points"):
            region.select(da)
        return
    sub = region.select(da)
    # the same points...
    assert sorted(sub.values.ravel().tolist()) == sorted(da.values[mask].tolist())
    # ...with longitudes that step eastwards by one grid spacing, starting at the western edge
    steps = np.mod(np.diff(sub["lon"].values), 360.0)
    assert np.all(steps == 1.0)
    assert 0 < np.mod(sub["lon"].values[0] - west, 360.0) <= 1.0
    # and monotonic_lon gives increasing longitudes for plotting, whatever the box and grid convention
    mono = region.select(da, monotonic_lon=True)
    assert np.all(np.diff(mono["lon"].values) > 0)
    np.testing.assert_array_equal(np.mod(mono["lon"].values, 360.0), np.mod(sub["lon"].values, 360.0))
    np.testing.assert_array_equal(mono.values, sub.values)
