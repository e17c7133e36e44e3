"""Offline Natural Earth files: what they hold, and maps that render with no network."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import shapefile  # pyshp
import shapely
from shapely.geometry import shape

from climviz.data.coastlines import (
    land_geometries,
    natural_earth_dir,
    natural_earth_shapefile,
    use_offline_natural_earth,
)

LAYERS = [
    ("coastline", "physical"),
    ("land", "physical"),
    ("ocean", "physical"),
    ("admin_0_boundary_lines_land", "cultural"),
]


def _read(name, category="physical"):
    with shapefile.Reader(str(natural_earth_shapefile(name, category))) as r:
        return [shape(s.__geo_interface__) for s in r.shapes()], [rec.as_dict() for rec in r.records()]


def test_shipped_layout_and_size():
    total = 0
    for name, category in LAYERS:
        shp = natural_earth_dir() / "shapefiles" / "natural_earth" / category / f"ne_110m_{name}.shp"
        for ext in (".shp", ".shx", ".dbf", ".prj"):
            assert shp.with_suffix(ext).is_file(), shp.with_suffix(ext)
        total += sum(f.stat().st_size for f in shp.parent.glob(f"ne_110m_{name}.*"))
    assert 100_000 < total < 600_000  # "a few hundred KB"
    with pytest.raises(FileNotFoundError, match="ships only"):
        natural_earth_shapefile("coastline", resolution="10m")


def test_land_geometries_cover_the_continents_and_antarctica():
    land = land_geometries()
    assert land.is_valid and land.geom_type == "MultiPolygon"
    assert len(land.geoms) > 100  # Natural Earth 110m land has 127 polygons
    minx, miny, maxx, maxy = land.bounds
    assert minx >= -180 and maxx <= 180 and miny == -90 and maxy > 83
    inside = shapely.contains_xy(land, [2.35, 135.0, 100.0, -45.0, 0.0], [48.85, -25.0, 60.0, -80.0, 30.0])
    assert inside.tolist() == [True, True, True, True, True]  # Paris, Australia, Siberia, Antarctica, Sahara
    water = shapely.contains_xy(land, [-150.0, -30.0, 80.0, 51.0], [0.0, 40.0, -20.0, 42.0])
    assert not water.any()  # Pacific, Atlantic, Indian Ocean, Caspian Sea (a hole)


def test_coastline_is_the_land_boundary_without_cut_edges():
    coast, _ = _read("coastline")
    land = land_geometries()
    xy = np.concatenate([np.asarray(line.coords) for line in coast])
    assert len(xy) > 4000
    # every coastline vertex lies on the land boundary
    assert shapely.distance(land.boundary, shapely.points(xy)).max() < 1e-9
    # no artificial edges along the dateline cut or the south pole
    for line in coast:
        c = np.asarray(line.coords)
        a, b = c[:-1], c[1:]
        on_dateline = (np.abs(np.abs(a[:, 0]) - 180) < 1e-6) & (np.abs(np.abs(b[:, 0]) - 180) < 1e-6)
        on_pole = (a[:, 1] < -89.999) & (b[:, 1] < -89.999)
        assert not (on_dateline | on_pole).any()
    # the land boundary has those edges, so it is longer than the coastline by at least 360 deg (the pole)
    assert land.boundary.length - sum(line.length for line in coast) > 360


def test_ocean_is_the_complement_of_land_and_caspian():
    ocean_parts, _ = _read("ocean")
    ocean = shapely.union_all(ocean_parts)
    land = land_geometries()
    caspian = [shapely.Polygon(r) for p in land.geoms for r in p.interiors]
    assert len(caspian) == 1 and 46 < caspian[0].centroid.x < 54 and 36 < caspian[0].centroid.y < 48
    assert ocean.intersection(land).area < 1e-6
    assert ocean.area + land.area + caspian[0].area == pytest.approx(360.0 * 180.0, rel=1e-9)


def test_borders_are_shared_and_inland():
    lines, recs = _read("admin_0_boundary_lines_land", "cultural")
    land = land_geometries()
    assert len(lines) > 150
    mids = shapely.points(
        np.concatenate([0.5 * (np.asarray(l.coords)[:-1] + np.asarray(l.coords)[1:]) for l in lines])
    )
    assert shapely.covers(land, mids).all()  # borders run over land ...
    on_coast = shapely.distance(land.boundary, mids) < 1e-9
    assert on_coast.mean() < 0.01  # ... and not along the coast
    pairs = {frozenset((r["adm0_left"], r["adm0_right"])) for r in recs}
    assert frozenset(("France", "Spain")) in pairs
    assert frozenset(("Canada", "United States of America")) in pairs
    assert frozenset(("Australia", "Indonesia")) not in pairs  # no land border


def test_use_offline_natural_earth_is_idempotent(monkeypatch):
    import cartopy

    monkeypatch.setitem(cartopy.config, "pre_existing_data_dir", "/nonexistent")
    first = use_offline_natural_earth()
    second = use_offline_natural_earth()
    assert first == second == natural_earth_dir()
    assert cartopy.config["pre_existing_data_dir"] == natural_earth_dir()
    from cartopy.io import shapereader

    assert Path(shapereader.natural_earth(resolution="110m", category="physical", name="coastline")) == (
        natural_earth_shapefile("coastline")
    )


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, an empty cartopy data_dir, no cached geometries, config restored afterwards."""
    import cartopy
    import cartopy.feature
    import cartopy.io

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(cartopy.io, "urlopen", refuse)  # cartopy imported it by name
    empty = tmp_path / "cartopy-data"
    empty.mkdir()
    monkeypatch.setitem(cartopy.config, "data_dir", empty)
    monkeypatch.setitem(cartopy.config, "pre_existing_data_dir", empty)
    monkeypatch.setattr(cartopy.feature, "_NATURAL_EARTH_GEOM_CACHE", {})
    return empty


def _multiline_points(plot):
    """Number of vertices in the MultiLine glyphs of a bokeh figure, and their x range."""
    n, xmin, xmax = 0, np.inf, -np.inf
    for r in plot.renderers:
        if type(r.glyph).__name__ == "MultiLine":
            for xs in r.data_source.data["xs"]:
                xs = np.asarray(xs, dtype=float)
                xs = xs[np.isfinite(xs)]
                n += xs.size
                if xs.size:
                    xmin, xmax = min(xmin, xs.min()), max(xmax, xs.max())
    return n, xmin, xmax


def test_coastline_needs_the_shipped_files_when_offline(offline):
    """Control: with no network and no shipped files, cartopy tries to download and fails."""
    import cartopy.io
    import geoviews as gv
    import holoviews as hv

    with pytest.warns(cartopy.io.DownloadWarning), pytest.raises(OSError, match="network disabled"):
        hv.render(gv.feature.coastline, backend="bokeh")
    assert not list(offline.rglob("*.shp"))


def test_geoviews_features_render_offline(offline):
    import geoviews as gv
    import holoviews as hv

    use_offline_natural_earth()
    n, xmin, xmax = _multiline_points(hv.render(gv.feature.coastline, backend="bokeh"))
    assert n > 4000
    assert xmax - xmin > 3.9e7  # Web Mercator metres: the lines span the globe
    assert _multiline_points(hv.render(gv.feature.borders, backend="bokeh"))[0] > 1000
    land = hv.render(gv.feature.land, backend="bokeh")
    assert any(type(r.glyph).__name__ == "MultiPolygons" for r in land.renderers)
    assert not list(offline.rglob("*.*"))  # nothing was downloaded into data_dir


def test_hvplot_coastline_renders_offline(offline):
    import holoviews as hv
    import hvplot.xarray  # noqa: F401  (registers .hvplot)
    import xarray as xr

    use_offline_natural_earth()
    lat, lon = np.linspace(-82.5, 82.5, 12), np.arange(24) * 15.0
    da = xr.DataArray(np.zeros((12, 24)), dims=("lat", "lon"), coords={"lat": lat, "lon": lon}, name="tas")
    plot = hv.render(da.hvplot.image(x="lon", y="lat", geo=True, coastline=True), backend="bokeh")
    assert any(type(r.glyph).__name__ == "Image" for r in plot.renderers)
    assert _multiline_points(plot)[0] > 4000
