"""Offline Natural Earth 110m coastlines, land, ocean and borders for cartopy/geoviews.

cartopy fetches Natural Earth shapefiles from the internet the first time a
map needs them, which fails offline (and on many HPC nodes). climviz ships the
110m ``coastline``, ``land``, ``ocean`` (physical) and
``admin_0_boundary_lines_land`` (cultural) layers, derived from public-domain
Natural Earth country outlines by ``tools/build_natural_earth.py``, in the
layout cartopy looks for below ``cartopy.config['pre_existing_data_dir']``.
Call :func:`use_offline_natural_earth` once before drawing a map; then
``geoviews.feature.coastline`` and ``hvplot(..., coastline=True)`` render with
no network. Only the 110m scale is shipped (geoviews' default); asking for
``'50m'`` or ``'10m'`` still makes cartopy try to download.
"""

from __future__ import annotations

import functools
from pathlib import Path

NATURAL_EARTH_DIR = Path(__file__).resolve().parent / "natural_earth"
_SHAPEFILES = NATURAL_EARTH_DIR / "shapefiles" / "natural_earth"


def natural_earth_dir() -> Path:
    """Directory to use as ``cartopy.config['pre_existing_data_dir']``."""
    return NATURAL_EARTH_DIR


def natural_earth_shapefile(name: str, category: str = "physical", resolution: str = "110m") -> Path:
    """Path of a shipped Natural Earth shapefile, e.g. ``natural_earth_shapefile("land")``.

    Raises ``FileNotFoundError`` naming what is shipped when the layer is not.
    """
    path = _SHAPEFILES / category / f"ne_{resolution}_{name}.shp"
    if not path.exists():
        shipped = sorted(str(p.relative_to(_SHAPEFILES)) for p in _SHAPEFILES.glob("*/*.shp"))
        raise FileNotFoundError(f"{path} is not shipped; climviz ships only {shipped}")
    return path


def use_offline_natural_earth() -> Path:
    """Point cartopy at the shipped Natural Earth files; return that directory.

    Sets ``cartopy.config['pre_existing_data_dir']``, which cartopy consults
    before it would download (and before ``config['data_dir']``). Idempotent
    and cheap (one dict assignment), so call it wherever a map is built.
    """
    import cartopy  # local import: only map code needs cartopy

    cartopy.config["pre_existing_data_dir"] = NATURAL_EARTH_DIR
    return NATURAL_EARTH_DIR


@functools.lru_cache(maxsize=1)
def land_geometries():
    """Natural Earth 110m land as one shapely ``MultiPolygon`` in lon/lat degrees.

    Longitudes are in ``[-180, 180]``; Antarctica is closed along lat = -90 and
    the Caspian Sea is a hole. Cached: the same object comes back each call, so
    treat it as read-only.
    """
    import shapefile  # pyshp
    import shapely
    from shapely.geometry import shape

    with shapefile.Reader(str(natural_earth_shapefile("land"))) as reader:
        polys = [shape(s.__geo_interface__) for s in reader.shapes()]
    parts = [g for p in polys for g in getattr(p, "geoms", [p])]
    return shapely.MultiPolygon(parts)
