"""Land fraction of grid cells: analytic shapes, an exact spherical-area reference, known places."""

from __future__ import annotations

import time

import numpy as np
import pytest
import shapely

from climviz.data.coastlines import land_geometries
from climviz.data.grid import cell_area_weights, global_grid
from climviz.data.landmask import fraction_covered, land_fraction, lat_edges, lon_edges


@pytest.fixture(scope="module")
def t63():
    lat, lon = global_grid(96, 192)
    return lat, lon, land_fraction(lat, lon)


def _cell(lat, lon, la, lo):
    return int(np.argmin(np.abs(lat - la))), int(np.argmin(np.abs((lon - lo + 180) % 360 - 180)))


def spherical_area_fraction(geom) -> float:
    """Exact share of the sphere inside polygons whose edges are straight in lon/lat.

    Green's theorem: area = -closed_integral sin(phi) d(lambda); along a straight
    lon/lat segment the integral is dlam * (cos phi0 - cos phi1) / dphi.
    """
    total = 0.0
    for poly in geom.geoms:
        for k, ring in enumerate([poly.exterior, *poly.interiors]):
            xy = np.deg2rad(np.asarray(shapely.normalize(shapely.Polygon(ring)).exterior.coords))
            lam0, phi0, lam1, phi1 = xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1]
            dphi = phi1 - phi0
            safe = np.where(np.abs(dphi) > 1e-12, dphi, 1.0)
            seg = np.where(np.abs(dphi) > 1e-12, (np.cos(phi0) - np.cos(phi1)) / safe, np.sin(phi0))
            area = abs(np.sum((lam1 - lam0) * seg))
            total += area if k == 0 else -area
    return total / (4 * np.pi)


def test_edges_of_the_gaussian_grid():
    lat, lon = global_grid(96, 192)
    le, oe = lat_edges(lat), lon_edges(lon)
    assert le[0] == -90 and le[-1] == 90 and np.all(np.diff(le) > 0)
    assert np.all((le[1:-1] > lat[:-1]) & (le[1:-1] < lat[1:]))
    assert oe[-1] - oe[0] == pytest.approx(360.0)
    np.testing.assert_allclose(oe, (np.arange(193) - 0.5) * 1.875)
    np.testing.assert_array_equal(lat_edges(lat[::-1]), le[::-1])
    # a regional grid is closed neither round the globe nor at the pole
    assert lon_edges(np.array([10.0, 20.0, 30.0])).tolist() == [5.0, 15.0, 25.0, 35.0]
    assert lat_edges(np.array([20.0, 30.0, 40.0])).tolist() == [15.0, 25.0, 35.0, 45.0]
    assert lat_edges(np.array([70.0, 80.0, 89.0])).tolist() == [65.0, 75.0, 84.5, 90.0]


def test_fraction_covered_analytic_boxes():
    lat = np.arange(-85.0, 90.0, 10.0)  # edges at -90, -80, ..., 90
    lon = np.arange(0.0, 360.0, 10.0)  # edges at -5, 5, ..., 355
    # a box from 20E to 50E, 0 to 30N: cells centred 30E and 40E are full; 20E and 50E half
    frac = fraction_covered(shapely.box(20, 0, 50, 30), lat, lon, oversample=4)
    rows = (lat > 0) & (lat < 30)
    np.testing.assert_allclose(frac[rows][:, [2, 3, 4, 5]], [[0.5, 1.0, 1.0, 0.5]] * 3)
    assert frac[~rows].sum() == 0 and frac[rows].sum() == pytest.approx(3 * 3.0)
    # across the dateline: a box 170E..190E arrives split at +-180, as Natural Earth stores it
    split = shapely.MultiPolygon([shapely.box(170, -10, 180, 10), shapely.box(-180, -10, -170, 10)])
    frac = fraction_covered(split, lat, lon, oversample=4)
    row = int(np.argmin(np.abs(lat - 5)))
    cols = {c: frac[row, int(np.argmin(np.abs(lon - c)))] for c in (160, 170, 180, 190, 200)}
    assert cols == {160: 0.0, 170: 0.5, 180: 1.0, 190: 0.5, 200: 0.0}
    # area, not angle: a cap north of 75N fills the 70-80N cell by its sin(lat) share (0.42, not 0.5)
    cap = fraction_covered(shapely.box(-180, 75, 180, 90), lat, lon, oversample=64)
    s = np.sin(np.deg2rad([70.0, 75.0, 80.0]))
    assert cap[int(np.argmin(np.abs(lat - 75)))][0] == pytest.approx((s[2] - s[1]) / (s[2] - s[0]), abs=0.02)


def test_global_land_fraction_matches_exact_polygon_area(t63):
    lat, lon, frac = t63
    assert frac.shape == (96, 192) and frac.min() == 0.0 and frac.max() == 1.0
    mean = float((frac * cell_area_weights(lat)[:, None]).mean())
    assert 0.26 < mean < 0.31  # Earth: ~0.29 (Antarctica included, its ice shelves not)
    exact = spherical_area_fraction(land_geometries())
    assert 0.27 < exact < 0.30
    assert mean == pytest.approx(exact, abs=0.003)


@pytest.mark.parametrize(
    "where, la, lo, is_land",
    [
        ("Paris", 48.0, 2.0, True),
        ("central Pacific at the dateline", 0.0, 180.0, False),
        ("mid-Atlantic", 40.0, 330.0, False),
        ("central Australia", -25.0, 135.0, True),
        ("Siberia", 60.0, 100.0, True),
        ("Chukotka, straddling the dateline", 67.0, 180.0, True),
        ("East Antarctica", -80.0, 90.0, True),
        ("Caspian Sea", 42.0, 51.0, False),
    ],
)
def test_known_places(t63, where, la, lo, is_land):
    lat, lon, frac = t63
    i, j = _cell(lat, lon, la, lo)
    assert (frac[i, j] > 0.5) == is_land, (where, frac[i, j])


def test_periodic_in_longitude(t63):
    lat, lon, frac = t63
    shifted = land_fraction(lat, lon - 180.0)  # same cells listed from 180W
    np.testing.assert_array_equal(shifted, np.roll(frac, -96, axis=1))
    np.testing.assert_array_equal(land_fraction(lat[::-1], lon), frac[::-1])


def test_fast_and_cached():
    lat, lon = global_grid(96, 192)
    lat = lat + 1e-9  # a grid no other test has cached
    land_geometries()  # file read is not the rasterisation
    t0 = time.perf_counter()
    first = land_fraction(lat, lon)
    cold = time.perf_counter() - t0
    first[:] = -1.0  # the caller's copy; must not reach the cache
    t0 = time.perf_counter()
    again = land_fraction(lat, lon)
    warm = time.perf_counter() - t0
    assert again.min() >= 0.0
    assert cold < 2.0 and warm < 0.05, (cold, warm)
