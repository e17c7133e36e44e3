"""Views: HoloViews/GeoViews objects from xarray (rasterised with Datashader). They only draw."""

from __future__ import annotations

import functools

import cartopy.crs as ccrs
import geoviews as gv
import holoviews as hv
import numpy as np
import xarray as xr
from holoviews.operation.datashader import rasterize

from climviz.data.coastlines import use_offline_natural_earth

PROJECTION = ccrs.PlateCarree(central_longitude=180)  # Pacific-centred, ENSO in view
DIVERGING = ("RdBu_r", "coolwarm", "bwr", "PuOr_r")
GEN, TRUE, COND, ERUPT = "#dd8452", "#4c72b0", "#222222", "#c44e52"


def projection(central_lon: float = 180.0):
    return PROJECTION if central_lon == 180.0 else ccrs.PlateCarree(central_longitude=central_lon)


def _in_display_coords(field: xr.DataArray, central_lon: float = 180.0) -> xr.DataArray:
    """Express longitudes in the projection's own x (lon - central, in [-180, 180)),
    so the raster needs no re-projection (which would leave a seam at the dateline)."""
    x = (field["lon"].values - central_lon + 180.0) % 360.0 - 180.0
    return field.assign_coords(lon=x).sortby("lon")


def symmetric_clim(*fields: xr.DataArray, q: float = 99) -> tuple[float, float]:
    """``(-v, v)`` with ``v`` the ``q``-th percentile of ``|field|`` over all fields (1 when all zero/NaN)."""
    vals = np.concatenate([np.abs(np.asarray(f.values, float)).ravel() for f in fields])
    vals = vals[np.isfinite(vals)]
    v = float(np.percentile(vals, q)) if vals.size else 1.0
    return (-v, v) if v > 0 else (-1.0, 1.0)


def region_rects(box, central_lon: float = 180.0) -> list[tuple[float, float, float, float]]:
    """``(x0, y0, x1, y1)`` rectangle(s) of a :class:`~climviz.data.regions.Region` in display
    coordinates (two when it crosses the display edge; none for the whole globe)."""
    if box is None or (box.is_global_lon and box.lat_min <= -90 and box.lat_max >= 90):
        return []
    lo = (box.lon_min - central_lon + 180.0) % 360.0 - 180.0
    width = (box.lon_max - box.lon_min) % 360.0 or 360.0
    rects = [(lo, box.lat_min, min(lo + width, 180.0), box.lat_max)]
    if lo + width > 180.0:
        rects.append((-180.0, box.lat_min, lo + width - 360.0, box.lat_max))
    return rects


def region_extent(region) -> tuple[float, tuple[float, float, float, float] | None]:
    """``(central_lon, extent)`` that show a :class:`~climviz.data.regions.Region` on a map:
    ``(180, None)`` for the globe, else the region's centre and its box in display coordinates."""
    r = region
    if r.is_global_lon and r.lat_max - r.lat_min >= 179:
        return 180.0, None
    span = (r.lon_max - r.lon_min) % 360.0 or 360.0
    centre = (r.lon_min + span / 2.0) % 360.0
    return centre, (-span / 2.0, r.lat_min, span / 2.0, r.lat_max)


def map_view(
    field: xr.DataArray,
    *,
    title: str = "",
    cmap: str = "RdBu_r",
    clim: tuple[float, float] | None = None,
    width: int = 640,
    height: int = 330,
    responsive: bool = False,
    min_width: int = 300,
    central_lon: float = 180.0,
    box=None,
    extent=None,
    tools=("hover",),
    dynamic: bool = True,
    axes: str = "",
    on_top=None,
):
    """A ``(lat, lon)`` field on a PlateCarree map with coastlines, rasterised with Datashader.

    ``box``: a Region outlined on the map; ``extent``: ``(lon_min, lat_min, lon_max, lat_max)``
    in display coordinates to zoom to (default: the globe). ``dynamic=False`` rasterises once
    (needed inside a DynamicMap callback, which cannot hold another DynamicMap), at
    ``RASTER_PX_PER_CELL`` pixels per grid cell, at most twice ``width`` x ``height``. ``responsive=True``: the map fills the width of its pane at
    the extent's aspect, at least ``min_width`` pixels wide, instead of ``width`` x ``height``;
    it is rasterised once (a raster that follows the zoom is a nested DynamicMap, which leaves a
    responsive map no height in a Panel column; the grids shown are coarser than the raster).
    ``axes``: maps with the same non-empty name zoom and pan together when their panes link
    axes (Panel links the bokeh ranges of panes whose axes have the same label and unit).
    ``on_top``: an element in display coordinates drawn over the map (a point marker).
    """
    use_offline_natural_earth()
    label = field.attrs.get("long_name", field.name or "value")
    units = field.attrs.get("units", "")
    if clim is None:
        clim = symmetric_clim(field) if cmap in DIVERGING else (float(field.min()), float(field.max()))
    proj = projection(central_lon)
    data = _in_display_coords(
        field.drop_vars([c for c in field.coords if c not in ("lat", "lon")]), central_lon
    )
    kdims = [hv.Dimension("lon", unit=axes or None), hv.Dimension("lat", unit=axes or None)]
    img = gv.Image(data.rename(label), kdims=kdims, vdims=[label], crs=proj, rtol=0.2)  # Gaussian lat
    dynamic = dynamic and not responsive
    raster = rasterize(
        img,
        precompute=True,
        dynamic=dynamic,
        **({} if dynamic else _fixed_raster_size(data, width, height)),
    ).opts(
        cmap=cmap,
        clim=clim,
        colorbar=True,
        clabel=f"{label} ({units})",
        tools=list(tools),
    )
    layers = raster * coastline_path(central_lon)
    rects = region_rects(box, central_lon)
    if rects:
        layers = layers * gv.Rectangles(rects, crs=proj).opts(
            fill_alpha=0, line_color="black", line_width=2, line_dash="dashed"
        )
    if on_top is not None:
        layers = layers * on_top
    return layers.opts(
        **map_frame_opts(
            central_lon,
            extent,
            title=title,
            responsive=responsive,
            min_width=min_width,
            width=width,
            height=height,
        )
    )


RASTER_PX_PER_CELL = 4


def _fixed_raster_size(data: xr.DataArray, width: int, height: int) -> dict:
    """Pixels of a raster made once: ``RASTER_PX_PER_CELL`` per grid cell, at most twice the
    plot's size. A field of a few thousand cells needs no more (the browser scales the image
    up without smoothing), and every pixel is sent to the browser on each update."""
    return {
        "width": int(min(2 * width, RASTER_PX_PER_CELL * data.sizes["lon"])),
        "height": int(min(2 * height, RASTER_PX_PER_CELL * data.sizes["lat"])),
    }


def map_frame_opts(
    central_lon: float = 180.0,
    extent=None,
    *,
    title: str = "",
    responsive: bool = False,
    min_width: int = 300,
    width: int = 640,
    height: int = 330,
) -> dict:
    """The options of the overlay of a :func:`map_view` map (projection, extent, size, no axes):
    also for an overlay of DynamicMaps that holds one (an overlay made with ``*`` has none of
    the options of its parts)."""
    opts = dict(projection=projection(central_lon), title=title, xaxis=None, yaxis=None)
    if extent is None:
        opts["global_extent"] = True
        extent = (-180.0, -90.0, 180.0, 90.0)
    else:
        opts.update(xlim=(extent[0], extent[2]), ylim=(extent[1], extent[3]))
    if responsive:  # the frame keeps the extent's aspect; the colour bar comes on top of it
        aspect = (extent[2] - extent[0]) / max(1e-6, extent[3] - extent[1])
        opts.update(responsive=True, aspect=aspect, min_width=min_width)
    else:
        opts.update(width=width, height=height)
    return opts


@functools.lru_cache(maxsize=16)
def coastline_path(central_lon: float = 180.0, tolerance_deg: float = 0.5) -> hv.Path:
    """Natural Earth 110m coastlines as one path already in the display coordinates of
    :func:`projection` (``central_lon``): projected once per process, not on every map drawn.
    Simplified to ``tolerance_deg`` (half a pixel on a 360-pixel-wide globe): the browser's
    time to draw a map grows with the points of its coastline."""
    import cartopy.feature as cfeature

    use_offline_natural_earth()
    proj = projection(central_lon)
    xs, ys = [], []
    for geom in cfeature.NaturalEarthFeature("physical", "coastline", "110m").geometries():
        projected = proj.project_geometry(geom.simplify(tolerance_deg), ccrs.PlateCarree())
        for line in getattr(projected, "geoms", [projected]):
            xy = np.asarray(line.coords)
            xs += [xy[:, 0], [np.nan]]  # NaN breaks the line between coastlines
            ys += [xy[:, 1], [np.nan]]
    return hv.Path([{"x": np.concatenate(xs), "y": np.concatenate(ys)}]).opts(color="black", line_width=0.8)


def placeholder_map(like: xr.DataArray, title: str, **kw):
    """An empty (NaN) map with a title, where a view has nothing to show yet."""
    return map_view(
        xr.full_like(like, np.nan, dtype=float).assign_attrs(like.attrs), title=title, clim=(-1, 1), **kw
    )


def plume_view(
    series: xr.DataArray,
    stats: xr.Dataset,
    years: np.ndarray,
    eruptions: list[tuple[str, float]],
    *,
    title: str = "",
    ylabel: str = "K",
    width: int = 640,
    height: int = 300,
):
    """Members (thin), 5-95% band and ensemble mean of a ``(member, time)`` series,
    with eruption dates marked."""
    band = band_area(years, stats["low"].values, stats["high"].values, "members 5-95%", TRUE, 0.3)
    lines = [
        hv.Curve((years, series.isel(member=i).values), "year", ylabel).opts(
            color=TRUE, alpha=0.25, line_width=0.7
        )
        for i in range(series.sizes["member"])
    ]
    mean = hv.Curve((years, stats["mean"].values), "year", ylabel, label="ensemble mean").opts(
        color="#1f3b73", line_width=2
    )
    marks = eruption_marks(eruptions, float(np.nanmin(stats["low"].values)))
    return hv.Overlay([band, *lines, mean, *marks]).opts(
        title=title,
        ylabel=ylabel,
        xlabel="year",
        width=width,
        height=height,
        legend_position="top_left",
        show_grid=True,
        ylim=_ylim(series.values, stats["low"].values, stats["high"].values),
    )


def observed_global_view(
    ds: xr.Dataset, eruptions: list[tuple[str, float]], *, width: int = 640, height: int = 300
):
    """Synthetic members' annual global means (thin, and their mean) against the observed series
    (black, with its 95% range), anomalies vs 1961-1990; eruption dates marked."""
    years = ds["year"].values.astype(float) + 0.5
    syn = ds["synthetic"]
    band = band_area(
        years, ds["observed_low"].values, ds["observed_high"].values, "observed 95% range", "#555555", 0.25
    )
    lines = [
        hv.Curve((years, syn.isel(member=i).values), "year", "K").opts(color=TRUE, alpha=0.3, line_width=0.7)
        for i in range(syn.sizes["member"])
    ]
    mean = hv.Curve((years, syn.mean("member").values), "year", "K", label="synthetic ensemble mean").opts(
        color=TRUE, line_width=2
    )
    obs = hv.Curve((years, ds["observed"].values), "year", "K", label=ds.attrs["observed_label"]).opts(
        color=COND, line_width=1.8
    )
    ylim = _ylim(syn.values, ds["observed_low"].values, ds["observed_high"].values)
    return hv.Overlay([band, *lines, mean, obs, *eruption_marks(eruptions, ylim[0])]).opts(
        title="Global mean vs 1961-1990: SYNTHETIC and OBSERVED",
        xlabel="year",
        ylabel="anomaly (K)",
        width=width,
        height=height,
        legend_position="top_left",
        show_grid=True,
        ylim=ylim,
    )


def _ylim(*arrays, pad: float = 0.05) -> tuple[float, float]:
    """Data range with a margin (hv.Area would otherwise stretch the axis down to 0)."""
    vals = np.concatenate([np.asarray(a, float).ravel() for a in arrays])
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        return (-1.0, 1.0)
    lo, hi = float(vals.min()), float(vals.max())
    m = pad * (hi - lo or 1.0)
    return (lo - m, hi + m)


def band_area(years, low, high, label, color, alpha=0.25):
    """A filled band between ``low`` and ``high`` (NaN ends of running means left out)."""
    years, low, high = (np.asarray(a, float) for a in (years, low, high))
    ok = np.isfinite(low) & np.isfinite(high)
    return hv.Area((years[ok], low[ok], high[ok]), kdims=["year"], vdims=["low", "high"], label=label).opts(
        color=color, alpha=alpha, line_alpha=0
    )


def eruption_marks(eruptions, y: float):
    marks = [hv.VLine(x).opts(color=ERUPT, line_dash="dashed", line_width=1) for _, x in eruptions]
    labels = [
        hv.Text(x, y, f" {name}", fontsize=8, halign="left", valign="bottom").opts(text_color=ERUPT, angle=90)
        for name, x in eruptions
    ]
    return marks + labels


def series_view(
    s: dict, eruptions, *, title: str = "", width: int = 900, height: int = 320, ylabel: str = "anomaly (K)"
):
    """Regional-mean time series: conditioning run, generated members and 5-95% band, true 5-95% band.

    ``s``: output of :meth:`EnsembleResults.regional_series`.
    """
    years = s["years"]
    layers = []
    if s["ref_band"] is not None:
        q = s["ref_band"]
        layers.append(
            band_area(
                years, q.isel(quantile=0).values, q.isel(quantile=1).values, "true ensemble 5-95%", TRUE, 0.25
            )
        )
    if s["gen"] is not None:
        q = s["gen_band"]
        layers.append(
            band_area(
                years, q.isel(quantile=0).values, q.isel(quantile=1).values, "generated 5-95%", GEN, 0.3
            )
        )
        layers += [
            hv.Curve((years, s["gen"].isel(member=i).values), "year", ylabel).opts(
                color=GEN, alpha=0.45, line_width=0.7
            )
            for i in range(s["gen"].sizes["member"])
        ]
    layers.append(
        hv.Curve((years, s["cond"].values), "year", ylabel, label="conditioning run").opts(
            color=COND, line_width=1.8
        )
    )
    parts = [s["cond"].values] + [s[k].values for k in ("gen", "ref_band") if s[k] is not None]
    ylim = _ylim(*parts)
    layers += eruption_marks(eruptions, ylim[0])
    return hv.Overlay(layers).opts(
        title=title,
        width=width,
        height=height,
        legend_position="top_left",
        show_grid=True,
        xlabel="year",
        ylabel=ylabel,
        ylim=ylim,
    )


def nino_view(
    years,
    cond: xr.DataArray,
    gen: xr.DataArray | None,
    ref: xr.DataArray | None,
    *,
    width: int = 560,
    height: int = 300,
):
    """Nino3.4 index: true members (blue), generated members (orange), conditioning run (black)."""
    layers = []
    for da, color, label in ((ref, TRUE, "true members"), (gen, GEN, "generated members")):
        if da is None:
            continue
        for i in range(da.sizes["member"]):
            layers.append(
                hv.Curve(
                    (years, da.isel(member=i).values), "year", "Nino3.4 (K)", label=label if i == 0 else ""
                ).opts(color=color, alpha=0.35, line_width=0.8)
            )
    layers.append(
        hv.Curve((years, cond.values), "year", "Nino3.4 (K)", label="conditioning run").opts(
            color=COND, line_width=1.5
        )
    )
    return hv.Overlay(layers).opts(
        title="Nino3.4 index (monthly anomaly)",
        width=width,
        height=height,
        legend_position="top_left",
        show_grid=True,
    )


def _enso_curve_style(name: str) -> dict:
    """Generated / true solid in their colours; an observed reference dashed black."""
    if name.startswith("observed"):
        return {"color": COND, "line_width": 1.5, "line_dash": "dashed"}
    return {"color": {"generated": GEN, "true": TRUE}.get(name, "gray"), "line_width": 2}


def spectrum_view(psd: dict[str, xr.DataArray], *, width: int = 420, height: int = 300):
    """Member-mean power spectra of the Nino3.4 anomalies against period (years), log-log;
    a curve whose name starts with "observed" is drawn dashed."""
    layers = []
    for name, s in psd.items():
        keep = s["frequency"].values > 0
        period = 1.0 / s["frequency"].values[keep]
        layers.append(
            hv.Curve((period, s.values[keep]), "period (years)", "power (K² year)", label=name).opts(
                **_enso_curve_style(name)
            )
        )
    return hv.Overlay(layers).opts(
        title="Nino3.4 spectrum (multitaper)",
        logx=True,
        logy=True,
        width=width,
        height=height,
        show_grid=True,
        legend_position="bottom_left",
        invert_xaxis=True,
    )


def acf_view(acfs: dict[str, xr.DataArray], *, width: int = 420, height: int = 300):
    """Autocorrelation of the Nino3.4 anomalies against lag (months); "observed..." dashed."""
    layers = [
        hv.Curve((a["lag"].values, a.values), "lag (months)", "autocorrelation", label=name).opts(
            **_enso_curve_style(name)
        )
        for name, a in acfs.items()
    ]
    zero = hv.HLine(0.0).opts(color="black", line_width=0.8)
    return hv.Overlay([*layers, zero]).opts(
        title="Nino3.4 autocorrelation",
        width=width,
        height=height,
        show_grid=True,
        legend_position="top_right",
        ylim=(-0.6, 1.05),
    )


def bars_view(counts: xr.DataArray, *, title: str = "Rank histogram", width: int = 420, height: int = 280):
    """Rank histogram as bars with the flat (ideal) level dashed."""
    ranks = counts["rank"].values
    freq = counts.values / max(1, counts.values.sum())
    bars = hv.Bars((ranks.astype(str), freq), "rank of the true member", "frequency").opts(
        color=GEN, line_color=None
    )
    flat = hv.HLine(1.0 / len(ranks)).opts(color="black", line_dash="dashed", line_width=1)
    return (bars * flat).opts(title=title, width=width, height=height, show_grid=True)


def ke_view(spectra: dict[str, xr.DataArray], *, width: int = 560, height: int = 340):
    """Kinetic-energy spectra by spherical-harmonic degree, log-log."""
    colors = {
        "truth": "black",
        "coarse input": "#8c8c8c",
        "mean model": TRUE,
        "TAUDiff samples": GEN,
        "baseline samples": "#55a868",
    }
    layers = []
    for name, s in spectra.items():
        deg = s["degree"].values
        keep = deg >= 1
        layers.append(
            hv.Curve((deg[keep], s.values[keep]), "degree l", "KE (m² s⁻²)", label=name).opts(
                color=colors.get(name, "gray"),
                line_width=2 if name == "truth" else 1.5,
                line_dash="dashed" if name == "coarse input" else "solid",
            )
        )
    return hv.Overlay(layers).opts(
        title="Kinetic-energy spectra (mean over frames)",
        logx=True,
        logy=True,
        width=width,
        height=height,
        show_grid=True,
        legend_position="bottom_left",
    )


def timings_view(rows: list[dict], *, width: int = 420, height: int = 260):
    """Stacked per-stage wall times of TAUDiff and the baseline."""
    data = [(r["model"], r["stage"], r["seconds"]) for r in rows]
    return hv.Bars(data, ["model", "stage"], "seconds").opts(
        stacked=True,
        cmap={"mean model": TRUE, "diffusion": GEN},
        title="Wall time per stage (this run)",
        width=width,
        height=height,
        show_grid=True,
        tools=["hover"],
        legend_position="top_right",
    )


def cost_quality_view(points: list[dict], *, width: int = 420, height: int = 280):
    """Fair CRPS of u against wall seconds per simulated day (log), one line per method and sampler,
    each point labelled with its sampler steps (``bench/bench_downscale_quality.py``'s points)."""
    curves = []
    colours = {"TAUDiff": GEN, "baseline": TRUE}
    dashes = {"ddim": "solid", "dpm++2m": "dashed"}
    for method in ("TAUDiff", "baseline"):
        for sampler in sorted({p["sampler"] for p in points if p["method"] == method}):
            pts = sorted(
                (p for p in points if p["method"] == method and p["sampler"] == sampler),
                key=lambda p: p["seconds_per_day"],
            )
            data = [(p["seconds_per_day"], p["crps_u"], p["steps"], p["ke_share"]) for p in pts]
            kdims, vdims = ["s per simulated day"], ["CRPS u (m/s)", "steps", "KE share in band"]
            label = f"{method} ({sampler})"
            opts = dict(color=colours[method], tools=["hover"])
            curves.append(
                hv.Curve(data, kdims, vdims, label=label).opts(
                    line_dash=dashes.get(sampler, "dotted"), **opts
                )
            )
            curves.append(hv.Scatter(data, kdims, vdims, label=label).opts(size=6, **opts))
    return hv.Overlay(curves).opts(
        title="Cost against quality (measured, test period)",
        logx=True,
        width=width,
        height=height,
        show_grid=True,
        legend_position="top_right",
    )


def denoise_curve(frames: list[dict], current: int, *, width: int = 380, height: int = 260):
    """RMS (K) of the predicted member-minus-conditioning field at each sampler step."""
    steps = [f["step"] for f in frames]
    rms = [float(np.sqrt(np.nanmean(f["field"].values ** 2))) for f in frames]
    curve = hv.Curve((steps, rms), "sampler step", "RMS of generated variability (K)").opts(
        color=GEN, line_width=2
    )
    pts = hv.Scatter((steps, rms)).opts(color=GEN, size=5)
    mark = hv.VLine(frames[current]["step"] if frames else 0).opts(color="black", line_dash="dashed")
    return (curve * pts * mark).opts(
        title="How much variability the prediction holds", width=width, height=height, show_grid=True
    )
