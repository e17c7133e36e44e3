"""Point inspection on analytic fields: the picked point, longitude wrap, anomalies, ranks, wind speed."""

import cftime
import numpy as np
import pytest
import xarray as xr

from climviz.ui.point_inspect import (
    inspect_point,
    inspect_wind_point,
    nearest_point,
    pick_point,
    tap_to_lonlat,
)

LAT = np.array([-60.0, -30.0, 0.0, 30.0, 60.0])
LON360 = np.arange(0.0, 360.0, 10.0)  # 0 .. 350
LON180 = np.arange(-180.0, 180.0, 10.0)  # -180 .. 170
TIME = [cftime.DatetimeNoLeap(1990 + i // 12, i % 12 + 1, 15) for i in range(24)]


def latlon_field(lon=LON360):
    """``lat + lon`` on the grid: the value names the point."""
    return xr.DataArray(LAT[:, None] + lon[None, :], dims=("lat", "lon"), coords={"lat": LAT, "lon": lon})


def test_tap_in_display_coordinates_picks_the_nearest_point():
    f = latlon_field()
    # the map's x is lon - 180: a tap at x = -57 is 123 E; 31 N -> the point (30 N, 120 E)
    p = pick_point(f, -57.0, 31.0)
    assert (p.lat, p.lon) == (30.0, 120.0)
    assert float(f.isel(lat=p.ilat, lon=p.ilon)) == 150.0
    assert p.label() == "30.0°N, 120.0°E"
    # a tap given in degrees east (central_lon=0) at the same place
    assert pick_point(f, 123.0, 31.0, central_lon=0.0) == p


@pytest.mark.parametrize("lon", [LON360, LON180], ids=["0-360 grid", "-180-180 grid"])
def test_minus_179_and_181_are_the_same_meridian(lon):
    a = nearest_point(LAT, lon, -179.0, 0.0)
    b = nearest_point(LAT, lon, 181.0, 0.0)
    assert a == b
    assert a.lon % 360.0 == 180.0  # 180 E on either grid (-180 on the second)


def test_a_tap_just_west_of_greenwich_wraps_to_lon_zero():
    # x = 179.9 on the Pacific-centred map is 359.9 E: nearest to 0 E, not to 350 E
    lon, lat = tap_to_lonlat(179.9, 95.0)
    assert lon == pytest.approx(359.9, abs=1e-9) and lat == 90.0
    p = pick_point(latlon_field(), 179.9, 0.0)
    assert p.lon == 0.0 and p.ilon == 0
    q = pick_point(latlon_field(LON180), 179.9, 0.0)
    assert q.lon == 0.0 and q.ilon == 18


def _runs(n_gen=5, n_true=3, true_offset=100.0):
    """cond: lat+lon plus a seasonal cycle repeated each year (its monthly anomalies are 0);
    generated member k = cond + (k + 1); true member j = cond + true_offset + j."""
    season = 10.0 * np.sin(2 * np.pi * np.arange(24) / 12)
    base = latlon_field().values[None] + season[:, None, None]
    coords = {"time": TIME, "lat": LAT, "lon": LON360}
    cond = xr.DataArray(base, dims=("time", "lat", "lon"), coords=coords)
    gen = xr.concat([cond + k + 1 for k in range(n_gen)], "member")
    true = xr.concat([cond + true_offset + j for j in range(n_true)], "member")
    return cond, gen, true


def test_series_anomalies_and_quantiles_at_the_point():
    cond, gen, true = _runs()
    p = pick_point(cond, -57.0, 31.0)
    insp = inspect_point(gen, cond, p, true)
    season = 10.0 * np.sin(2 * np.pi * np.arange(24) / 12)
    np.testing.assert_allclose(insp.cond.values, 150.0 + season, atol=1e-12)
    assert insp.generated.sizes == {"member": 5, "time": 24} and insp.true.sizes == {"member": 3, "time": 24}
    np.testing.assert_allclose(insp.years[:2], [1990 + 0.5 / 12, 1990 + 1.5 / 12])
    # the conditioning run's own monthly climatology: its anomalies vanish, member k's are k + 1
    np.testing.assert_allclose(insp.cond_anom.values, 0.0, atol=1e-9)
    for k in range(5):
        np.testing.assert_allclose(insp.generated_anom.isel(member=k).values, k + 1, atol=1e-9)
    # 120 values, 24 each of 1..5: linear-interpolated quantiles land on whole values
    np.testing.assert_allclose(insp.quantiles["generated"].values, [1, 2, 3, 4, 5], atol=1e-9)
    np.testing.assert_allclose(insp.quantiles["true"].values, [100, 100, 101, 102, 102], atol=1e-9)
    assert "conditioning run" in insp.clim_note


def test_histograms_share_bins_and_count_every_value():
    cond, gen, true = _runs()
    insp = inspect_point(gen, cond, pick_point(cond, 0.0, 0.0), true, bins=10)
    assert insp.bin_edges[0] == pytest.approx(1.0) and insp.bin_edges[-1] == pytest.approx(102.0)
    assert len(insp.bin_edges) == 11
    assert insp.counts["generated"].sum() == 5 * 24 and insp.counts["true"].sum() == 3 * 24
    # generated anomalies (1..5) all fall in the first bin, true ones (100..102) in the last
    assert insp.counts["generated"][0] == 120 and insp.counts["true"][-1] == 72


def test_rank_of_a_truth_above_every_member_is_the_last():
    cond, gen, true = _runs(true_offset=100.0)
    insp = inspect_point(gen, cond, pick_point(cond, 10.0, -20.0), true)
    r = insp.rank_counts
    assert list(r["rank"].values) == [1, 2, 3, 4, 5, 6]
    assert r.values.tolist() == [0, 0, 0, 0, 0, 3 * 24]
    below = inspect_point(gen, cond, insp.point, true - 200.0).rank_counts
    assert below.values.tolist() == [3 * 24, 0, 0, 0, 0, 0]
    # a truth between members 2 and 3 (cond + 2.5): rank 3 every month
    mid = inspect_point(gen, cond, insp.point, cond + 2.5).rank_counts
    assert mid.values.tolist() == [0, 0, 24, 0, 0, 0]


def test_without_truth_and_with_a_given_climatology():
    cond, gen, _ = _runs()
    p = pick_point(cond, 0.0, 0.0)
    clim = xr.zeros_like(cond.groupby("time.month").mean("time"))
    insp = inspect_point(gen, cond, p, None, clim=clim, clim_note="zero")
    assert insp.true is None and insp.true_anom is None and insp.rank_counts is None
    assert set(insp.counts) == {"generated"} and set(insp.quantiles) == {"generated"}
    assert insp.clim_note == "zero"
    np.testing.assert_allclose(insp.generated_anom.values, insp.generated.values)


def test_wind_speed_at_the_point():
    times = [cftime.DatetimeGregorian(2000, 1, 1, 6 * i) for i in range(4)]
    shape = (4, len(LAT), len(LON360))
    coords = {"time": times, "lat": LAT, "lon": LON360}
    u = xr.DataArray(np.zeros(shape), dims=("time", "lat", "lon"), coords=coords)
    truth = xr.Dataset({"u": u + 3.0, "v": u - 4.0})  # speed 5
    samples = xr.Dataset(
        {
            "u": xr.concat([u + k + 1 for k in range(2)], "sample"),  # speeds 1, 2
            "v": xr.concat([u, u], "sample"),
            "u_mean": u,
            "v_mean": u + latlon_field(),  # speed lat + lon at the point
        }
    )
    p = pick_point(u, -57.0, 31.0)
    w = inspect_wind_point(samples, truth, p)
    np.testing.assert_allclose(w.hours, [0, 6, 12, 18])
    np.testing.assert_allclose(w.truth.values, 5.0)
    np.testing.assert_allclose(w.samples.transpose("sample", "time").values, [[1.0] * 4, [2.0] * 4])
    np.testing.assert_allclose(w.mean.values, 150.0)
    assert inspect_wind_point(samples[["u", "v"]], truth, p).mean is None
