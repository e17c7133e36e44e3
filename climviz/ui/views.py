"""Views: HoloViews/GeoViews objects from xarray (rasterised with Datashader)."""

from __future__ import annotations

import cartopy.crs as ccrs
import geoviews as gv
import holoviews as hv
import numpy as np
import xarray as xr
from holoviews.operation.datashader import rasterize

from climviz.data.coastlines import use_offline_natural_earth

PROJECTION = ccrs.PlateCarree(central_longitude=180)   # Pacific-centred, ENSO in view


def _in_display_coords(field: xr.DataArray) -> xr.DataArray:
    """Express longitudes in :data:`PROJECTION`'s own x (lon - 180, in [-180, 180)),
    so the raster needs no re-projection (which would leave a seam at the dateline)."""
    x = (field["lon"].values - 180.0 + 180.0) % 360.0 - 180.0
    return field.assign_coords(lon=x).sortby("lon")


def map_view(field: xr.DataArray, *, title: str = "", cmap: str = "RdBu_r",
             clim: tuple[float, float] | None = None, width: int = 640, height: int = 330):
    """A ``(lat, lon)`` field on a Pacific-centred map with coastlines, rasterised."""
    use_offline_natural_earth()
    label = field.attrs.get("long_name", field.name or "value")
    units = field.attrs.get("units", "")
    if clim is None:
        v = float(np.nanpercentile(np.abs(field.values), 99)) or 1.0
        clim = (-v, v) if cmap in ("RdBu_r", "coolwarm", "bwr") else (float(field.min()), float(field.max()))
    img = gv.Image(_in_display_coords(field).rename(label), kdims=["lon", "lat"], crs=PROJECTION)
    raster = rasterize(img, precompute=True).opts(
        cmap=cmap, clim=clim, colorbar=True, clabel=f"{label} ({units})", tools=["hover"],
    )
    return (raster * gv.feature.coastline.opts(line_color="black", line_width=0.8)).opts(
        projection=PROJECTION, global_extent=True, title=title, width=width, height=height,
        xaxis=None, yaxis=None,
    )


def plume_view(series: xr.DataArray, stats: xr.Dataset, years: np.ndarray,
               eruptions: list[tuple[str, float]], *, title: str = "", ylabel: str = "K",
               width: int = 640, height: int = 300):
    """Members (thin), 5-95% band and ensemble mean of a ``(member, time)`` series,
    with eruption dates marked."""
    band = hv.Area((years, stats["low"].values, stats["high"].values), kdims=["year"],
                   vdims=["low", "high"], label="members 5-95%").opts(alpha=0.3, color="#4c72b0", line_alpha=0)
    lines = [hv.Curve((years, series.isel(member=i).values), "year", ylabel).opts(
        color="#4c72b0", alpha=0.25, line_width=0.7) for i in range(series.sizes["member"])]
    mean = hv.Curve((years, stats["mean"].values), "year", ylabel, label="ensemble mean").opts(
        color="#1f3b73", line_width=2)
    marks = [hv.VLine(y).opts(color="#c44e52", line_dash="dashed", line_width=1) for _, y in eruptions]
    bottom = float(np.nanmin(stats["low"].values))
    labels = [hv.Text(y, bottom, f" {name}", fontsize=8, halign="left", valign="bottom").opts(
        text_color="#c44e52", angle=90) for name, y in eruptions]
    return hv.Overlay([band, *lines, mean, *marks, *labels]).opts(
        title=title, ylabel=ylabel, xlabel="year", width=width, height=height, legend_position="top_left", show_grid=True,
    )
