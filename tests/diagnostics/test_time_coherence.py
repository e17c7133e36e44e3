"""Flicker (mean squared frame-to-frame change) and vortex-track continuity on analytic cases, tiny grids."""

import numpy as np
import pytest
import xarray as xr

from climviz.diagnostics.spectra import EARTH_RADIUS_KM
from climviz.diagnostics.time_coherence import (
    MATCH_DISTANCE_KM,
    great_circle_km,
    matched_share,
    mean_squared_change,
    track_continuity,
)
from climviz.diagnostics.vorticity import vortex_centres

LAT = np.arange(-42.5, 45.0, 5.0)  # 18 latitudes, 5 degrees apart, none on the equator
LON = np.arange(0.0, 360.0, 5.0)  # 72 longitudes


def _frames(values, dims=("time", "lat", "lon"), lat=LAT, lon=LON):
    return xr.DataArray(values, dims=dims, coords={"lat": lat, "lon": lon})


def _vortex(lat0, lon0, amp=1.0, width_deg=6.0):
    """A Gaussian blob of vorticity at (lat0, lon0) on LAT x LON (longitude distance wraps)."""
    dlon = (LON[None, :] - lon0 + 180.0) % 360.0 - 180.0
    r2 = (LAT[:, None] - lat0) ** 2 + (dlon * np.cos(np.deg2rad(lat0))) ** 2
    return amp * np.exp(-r2 / (2 * width_deg**2))


# ------------------------------------------------------------------ flicker
def test_a_field_that_does_not_change_has_no_flicker():
    still = np.broadcast_to(np.random.default_rng(0).normal(size=(1, 18, 72)), (5, 18, 72))
    assert float(mean_squared_change(_frames(still))) == 0.0


def test_white_noise_frames_change_by_twice_their_variance():
    """Independent frames of variance s^2: E (x[t+1] - x[t])^2 = 2 s^2, within 4 standard errors.

    Var (d^2) = 8 s^4 for one difference, and neighbouring differences share a frame
    (Cov = 2 s^4 each side), so the mean of n = (T - 1) * points of them has variance
    about 12 s^4 / n (times the cos(lat)-weight factor, 1.01 here; 1.2 is allowed).
    """
    s, t = 2.0, 40
    x = np.random.default_rng(1).normal(0.0, s, size=(t, 18, 72))
    n = (t - 1) * 18 * 72
    se = s**2 * np.sqrt(12 * 1.2 / n)  # 0.07 against 2 s^2 = 8
    got = float(mean_squared_change(_frames(x)))
    assert abs(got - 2 * s**2) < 4 * se
    assert 4 * se < 0.06 * 2 * s**2  # the test can tell 2 s^2 from, say, 1.9 s^2 or 2.1 s^2


def test_the_change_is_weighted_by_cos_lat_and_kept_dims_stay():
    """x = t * g(lat): every difference is g(lat), so the result is the cos(lat)-weighted mean of g^2."""
    g = np.linspace(1.0, 3.0, LAT.size)
    x = np.arange(4.0)[:, None, None] * g[None, :, None] * np.ones((1, 1, LON.size))
    ref = np.average(g**2, weights=np.cos(np.deg2rad(LAT)))
    assert float(mean_squared_change(_frames(x))) == pytest.approx(ref, rel=1e-12)
    assert ref != pytest.approx(np.mean(g**2), rel=1e-3)  # the weights matter for this g
    # two samples, one still and one changing: kept apart with keep=("sample",), pooled without
    both = np.stack([np.ones_like(x), x])
    per = mean_squared_change(_frames(both, dims=("sample", "time", "lat", "lon")), keep=("sample",))
    assert per.dims == ("sample",)
    np.testing.assert_allclose(per.values, [0.0, ref], rtol=1e-12)


def test_one_frame_is_refused():
    with pytest.raises(ValueError, match="two frames"):
        mean_squared_change(_frames(np.zeros((1, 18, 72))))


# ------------------------------------------------------------------ distances and centres
def test_great_circle_distances():
    r = EARTH_RADIUS_KM
    assert great_circle_km(-90.0, 0.0, 90.0, 0.0) == pytest.approx(np.pi * r, rel=1e-12)
    assert great_circle_km(0.0, 0.0, 0.0, 90.0) == pytest.approx(np.pi * r / 2, rel=1e-12)
    # across the date line: 359 E to 1 E is 2 degrees of the equator, not 358
    assert great_circle_km(0.0, 359.0, 0.0, 1.0) == pytest.approx(np.deg2rad(2.0) * r, rel=1e-9)
    # along a parallel: 2 R asin(cos(lat) sin(dlon / 2)) (spherical law for two points at one latitude)
    lat = 47.5
    ref = 2 * r * np.arcsin(np.cos(np.deg2rad(lat)) * np.sin(np.deg2rad(5.0) / 2))
    assert great_circle_km(lat, 10.0, lat, 15.0) == pytest.approx(ref, rel=1e-9)


def test_vortex_centres_are_the_blobs_with_their_sign():
    z = _vortex(22.5, 100.0, 3.0) - _vortex(-27.5, 355.0, 2.0) + _vortex(-2.5, 200.0, 0.5)
    c = vortex_centres(_frames(z, dims=("lat", "lon")), 1.0)  # the third blob is below the threshold
    assert c.sizes["vortex"] == 2
    np.testing.assert_array_equal(c["lat"].values, [-27.5, 22.5])  # row-major order: south first
    np.testing.assert_array_equal(c["lon"].values, [355.0, 100.0])
    np.testing.assert_allclose(c["zeta"].values, [-2.0, 3.0], rtol=1e-12)


# ------------------------------------------------------------------ matching
def _centres(z):
    return vortex_centres(_frames(z, dims=("lat", "lon")), 0.5)


def test_an_identical_pattern_is_fully_matched():
    z = _vortex(12.5, 40.0) - _vortex(-32.5, 250.0) + _vortex(37.5, 300.0)
    assert matched_share(_centres(z), _centres(z)) == 1.0


def test_a_translated_vortex_is_matched_only_within_the_distance():
    """Moved one grid cell (5 degrees) east at 2.5 N: 555.5 km (spherical law, checked below)."""
    a, b = _centres(_vortex(2.5, 40.0)), _centres(_vortex(2.5, 45.0))
    moved = 2 * EARTH_RADIUS_KM * np.arcsin(np.cos(np.deg2rad(2.5)) * np.sin(np.deg2rad(2.5)))
    assert 550.0 < moved < 560.0 and MATCH_DISTANCE_KM == 500.0
    assert matched_share(a, b, moved + 1.0) == 1.0
    assert matched_share(a, b, moved - 1.0) == 0.0
    assert matched_share(a, b) == 0.0  # the default 500 km
    # across the date line the same step is the same distance
    assert matched_share(_centres(_vortex(2.5, 355.0)), _centres(_vortex(2.5, 0.0)), moved + 1.0) == 1.0


def test_the_sense_of_rotation_must_agree_and_no_vortex_gives_nan():
    z = _vortex(12.5, 40.0)
    assert matched_share(_centres(z), _centres(-z)) == 0.0
    assert np.isnan(matched_share(_centres(0 * z), _centres(z)))


def test_track_continuity_pools_pairs_and_samples():
    """A drifting vortex (one cell a frame) and one that jumps 90 degrees a frame: half are continued."""
    frames = np.stack([_vortex(22.5, 10.0 + 5.0 * k) - _vortex(-22.5, 90.0 * k) for k in range(4)])
    zeta = _frames(frames)
    assert track_continuity(zeta, 0.5, max_km=600.0) == pytest.approx(0.5)
    assert track_continuity(zeta, 0.5, max_km=500.0) == 0.0  # the drift (514 km at 22.5 N) is too far
    # with a still sample added, 6 of the 6 + 6 centres at t < last are continued within 500 km
    still = np.broadcast_to(frames[:1], frames.shape)
    both = _frames(np.stack([frames, still]), dims=("sample", "time", "lat", "lon"))
    assert track_continuity(both, 0.5, max_km=500.0) == pytest.approx(0.5)
    assert track_continuity(both, 0.5, max_km=600.0) == pytest.approx(0.75)
