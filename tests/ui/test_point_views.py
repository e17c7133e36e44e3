"""Point views contain one element per member / population, at the right places."""

import cftime
import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (options need a backend)
import numpy as np
import xarray as xr

from climviz.ui.point_inspect import GridPoint, inspect_point, inspect_wind_point, pick_point
from climviz.ui.point_views import (
    anomaly_distribution_view,
    display_x,
    point_marker,
    point_rank_view,
    point_series_view,
    quantile_table,
    stipple_view,
    wind_point_view,
)
from climviz.ui.views import COND, GEN, TRUE

LAT = np.array([-30.0, 0.0, 30.0])
LON = np.arange(0.0, 360.0, 60.0)
TIME = [cftime.DatetimeNoLeap(1990, m, 15) for m in range(1, 13)]


def _ensemble(n, offset, seed):
    rng = np.random.default_rng(seed)
    return xr.DataArray(
        280.0 + offset + rng.normal(size=(n, 12, 3, 6)),
        dims=("member", "time", "lat", "lon"),
        coords={"time": TIME, "lat": LAT, "lon": LON},
    )


def _inspection(n_gen=4, n_true=3):
    cond = _ensemble(1, 0.0, 0).isel(member=0, drop=True)
    true = _ensemble(n_true, 0.0, 2) if n_true else None
    return inspect_point(_ensemble(n_gen, 0.5, 1), cond, pick_point(cond, 0.0, 0.0), true)


def _curves(overlay, color=None):
    return [e for e in overlay if isinstance(e, hv.Curve) and (color is None or e.opts["color"] == color)]


def test_series_has_one_curve_per_run():
    view = point_series_view(_inspection(4, 3))
    assert len(_curves(view)) == 1 + 4 + 3
    assert (len(_curves(view, GEN)), len(_curves(view, TRUE)), len(_curves(view, COND))) == (4, 3, 1)
    # the conditioning curve is the point's anomaly series (zero-mean per calendar month: 1 year)
    np.testing.assert_allclose(_curves(view, COND)[0].dimension_values(1), 0.0, atol=1e-9)
    raw = point_series_view(_inspection(4, 0), anomaly=False)
    assert len(_curves(raw)) == 1 + 4 and _curves(raw, COND)[0].dimension_values(1).min() > 250


def test_distribution_has_a_histogram_and_median_per_population():
    insp = _inspection(4, 3)
    view = anomaly_distribution_view(insp)
    hists = [e for e in view if isinstance(e, hv.Histogram)]
    lines = [e for e in view if isinstance(e, hv.VLine)]
    assert len(hists) == 2 and len(lines) == 2
    for h in hists:  # frequencies on the shared edges
        np.testing.assert_allclose(h.dimension_values(1).sum(), 1.0, atol=1e-12)
        np.testing.assert_allclose(h.edges, insp.bin_edges)
    assert lines[0].data == float(insp.quantiles["generated"].sel(quantile=0.5))
    assert len([e for e in anomaly_distribution_view(_inspection(4, 0)) if isinstance(e, hv.Histogram)]) == 1
    table = quantile_table(insp)
    assert len(table) == 2 and [d.name for d in table.vdims] == ["q05", "q25", "q50", "q75", "q95"]


def test_rank_view_bars():
    view = point_rank_view(_inspection(4, 3))
    bars = [e for e in view if isinstance(e, hv.Bars)][0]
    assert len(bars) == 4 + 1
    np.testing.assert_allclose(bars.dimension_values(1).sum(), 1.0)
    assert point_rank_view(_inspection(4, 0)) is None


def test_wind_view_has_one_curve_per_sample_plus_mean_and_truth():
    times = [cftime.DatetimeGregorian(2000, 1, 1, 6 * i) for i in range(3)]
    u = xr.DataArray(
        np.ones((3, 3, 6)), dims=("time", "lat", "lon"), coords={"time": times, "lat": LAT, "lon": LON}
    )
    samples = xr.Dataset({"u": xr.concat([u] * 3, "sample"), "v": xr.concat([u] * 3, "sample")})
    wp = inspect_wind_point(samples, xr.Dataset({"u": u, "v": u}), pick_point(u, 0.0, 0.0))
    assert len(_curves(wind_point_view(wp))) == 3 + 1
    wp_mean = inspect_wind_point(samples.assign(u_mean=u, v_mean=u), xr.Dataset({"u": u, "v": u}), wp.point)
    assert len(_curves(wind_point_view(wp_mean))) == 3 + 1 + 1


def test_stipples_and_marker_in_display_coordinates():
    pts = stipple_view(np.array([0.0, 180.0, 359.0, -90.0]), np.array([10.0, 20.0, 30.0, 40.0]))
    np.testing.assert_allclose(pts.dimension_values(0), [-180.0, 0.0, 179.0, 90.0])
    np.testing.assert_allclose(pts.dimension_values(1), [10.0, 20.0, 30.0, 40.0])
    # with another map centre
    np.testing.assert_allclose(display_x([0.0, 350.0], central_lon=0.0), [0.0, -10.0])
    m = point_marker(GridPoint(ilat=0, ilon=0, lat=-30.0, lon=120.0))
    assert m.dimension_values(0).tolist() == [-60.0] and m.dimension_values(1).tolist() == [-30.0]


def test_views_render_with_bokeh():
    insp = _inspection(3, 2)
    for view in (
        point_series_view(insp),
        anomaly_distribution_view(insp),
        point_rank_view(insp),
        quantile_table(insp),
    ):
        hv.render(view, backend="bokeh")
    overlay = stipple_view([0.0, 60.0], [0.0, 30.0]) * point_marker(insp.point)
    hv.render(overlay, backend="bokeh")
