"""Views of one tapped grid point and of sign agreement (HoloViews only: they only draw).

Inputs come from :mod:`climviz.ui.point_inspect` and :mod:`climviz.diagnostics.agreement`;
colours are those of :mod:`climviz.ui.views` (generated orange, true blue, conditioning black).
Map overlays (:func:`stipple_view`, :func:`point_marker`) are in the display coordinates of
:func:`climviz.ui.views.map_view` (``x = lon - central_lon``), so they overlay its maps with ``*``.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np

from climviz.ui.point_inspect import GridPoint, PointInspection, WindPoint, wrap_lon
from climviz.ui.views import COND, GEN, TRUE, _ylim, bars_view

POP_COLORS = {"generated": GEN, "true": TRUE}


def display_x(lon, central_lon: float = 180.0) -> np.ndarray:
    """Degrees east (any convention) -> the map's display x, ``lon - central_lon`` in [-180, 180)."""
    return wrap_lon(np.asarray(lon, float) - central_lon, -180.0)


def _member_curves(years, values, color, label, ylabel, alpha=0.45) -> list[hv.Curve]:
    """One thin curve per row of ``values [member, time]``; only the first is labelled."""
    return [
        hv.Curve((years, row), "year", ylabel, label=label if i == 0 else "").opts(
            color=color, alpha=alpha, line_width=0.8
        )
        for i, row in enumerate(np.asarray(values))
    ]


def point_series_view(
    insp: PointInspection, *, anomaly: bool = True, width: int = 640, height: int = 300
) -> hv.Overlay:
    """Time series at the point: true members (blue), generated members (orange), the
    conditioning run (black, on top): ``n_true + n_generated + 1`` curves. ``anomaly``:
    against ``insp.clim`` (K), else the values (K)."""
    cond, gen, true = (
        (insp.cond_anom, insp.generated_anom, insp.true_anom)
        if anomaly
        else (insp.cond, insp.generated, insp.true)
    )
    ylabel = "anomaly (K)" if anomaly else "tas (K)"
    layers = []
    if true is not None:
        layers += _member_curves(
            insp.years, true.transpose("member", "time").values, TRUE, "true members", ylabel
        )
    layers += _member_curves(
        insp.years, gen.transpose("member", "time").values, GEN, "generated members", ylabel
    )
    layers.append(
        hv.Curve((insp.years, cond.values), "year", ylabel, label="conditioning run").opts(
            color=COND, line_width=1.6
        )
    )
    parts = [a.values for a in (cond, gen, true) if a is not None]
    return hv.Overlay(layers).opts(
        title=f"At {insp.point.label()}",
        xlabel="year",
        ylabel=ylabel,
        ylim=_ylim(*parts),
        width=width,
        height=height,
        show_grid=True,
        legend_position="top_left",
    )


def anomaly_distribution_view(insp: PointInspection, *, width: int = 420, height: int = 300) -> hv.Overlay:
    """Histograms of the point's anomalies (all members and months) on shared bins, as
    frequencies so ensembles of different sizes compare, with each population's median
    dashed: one histogram and one line per population (generated, and true when known)."""
    edges = insp.bin_edges
    hists, medians = [], []
    for name, counts in insp.counts.items():
        freq = counts / max(1, counts.sum())
        hists.append(
            hv.Histogram((edges, freq), kdims="anomaly (K)", vdims="frequency", label=name).opts(
                color=POP_COLORS[name], alpha=0.45, line_color=None
            )
        )
        medians.append(
            hv.VLine(float(insp.quantiles[name].sel(quantile=0.5))).opts(
                color=POP_COLORS[name], line_dash="dashed", line_width=1.5
            )
        )
    return hv.Overlay([*hists, *medians]).opts(
        title="Anomaly distribution at the point",
        width=width,
        height=height,
        show_grid=True,
        legend_position="top_right",
    )


def quantile_table(insp: PointInspection) -> hv.Table:
    """The anomaly quantiles (K) of each population, one row per population."""
    qs = [float(q) for q in next(iter(insp.quantiles.values()))["quantile"].values]
    cols = [f"q{round(100 * q):02d}" for q in qs]
    rows = [(name, *np.round(q.values, 3)) for name, q in insp.quantiles.items()]
    return hv.Table(rows, "ensemble", cols)


def point_rank_view(insp: PointInspection, *, width: int = 420, height: int = 280):
    """Rank of the true members among the generated members at the point (bars, flat level
    dashed), or None without true members."""
    if insp.rank_counts is None:
        return None
    return bars_view(
        insp.rank_counts, title=f"Rank histogram at {insp.point.label()}", width=width, height=height
    )


def wind_point_view(wp: WindPoint, *, width: int = 640, height: int = 280) -> hv.Overlay:
    """Wind speed at the point through time: one orange curve per sample, the mean model
    (blue dashed, when present) and the truth (black): ``n_samples + 1 (+ 1)`` curves."""
    ylabel = "wind speed (m s⁻¹)"
    layers = [
        hv.Curve((wp.hours, s), "hours", ylabel, label="samples" if k == 0 else "").opts(
            color=GEN, alpha=0.6, line_width=1
        )
        for k, s in enumerate(wp.samples.transpose("sample", "time").values)
    ]
    if wp.mean is not None:
        layers.append(
            hv.Curve((wp.hours, wp.mean.values), "hours", ylabel, label="mean model").opts(
                color=TRUE, line_dash="dashed", line_width=1.5
            )
        )
    layers.append(
        hv.Curve((wp.hours, wp.truth.values), "hours", ylabel, label="truth").opts(color=COND, line_width=1.8)
    )
    return hv.Overlay(layers).opts(
        title=f"Wind speed at {wp.point.label()}",
        xlabel="hours since the first frame",
        width=width,
        height=height,
        show_grid=True,
        legend_position="top_left",
    )


def stipple_view(lon, lat, *, central_lon: float = 180.0, size: float = 2.0) -> hv.Points:
    """Stipples at ``(lon, lat)`` (from :func:`climviz.diagnostics.agreement.agreeing_points`)
    in map display coordinates, to overlay a map of :func:`climviz.ui.views.map_view`."""
    return hv.Points((display_x(lon, central_lon), np.asarray(lat, float)), ["x", "y"]).opts(
        color="black", size=size, marker="dot", alpha=0.7
    )


def point_marker(point: GridPoint | None, *, central_lon: float = 180.0) -> hv.Points:
    """A ring on the inspected grid point, in map display coordinates (no ring for None)."""
    xy = ([], []) if point is None else ([float(display_x(point.lon, central_lon))], [point.lat])
    return hv.Points(xy, ["x", "y"]).opts(
        color="magenta", size=10, marker="circle", fill_alpha=0, line_width=2
    )
