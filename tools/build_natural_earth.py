"""Build the offline Natural Earth 110m shapefiles shipped with climviz.

Natural Earth is public domain. The 110m admin-0 country outlines ship inside
the ``pyogrio`` wheel (``pyogrio/tests/fixtures/naturalearth_lowres``); this
script derives from them the four layers that cartopy/geoviews ask for:

- ``physical/ne_110m_land``: union of all countries (127 polygons).
- ``physical/ne_110m_coastline``: the land boundary, without the artificial
  edges along the dateline cut (lon = +-180) and along the south pole (lat = -90)
  that close Antarctica, Russia and Fiji as polygons.
- ``physical/ne_110m_ocean``: the globe box minus land.
- ``cultural/ne_110m_admin_0_boundary_lines_land``: lines shared by two countries.

Files are written with pyshp into the layout cartopy expects below
``cartopy.config['pre_existing_data_dir']``:
``shapefiles/natural_earth/{physical,cultural}/ne_110m_*.{shp,shx,dbf,prj,cpg}``.

Usage::

    python tools/build_natural_earth.py                 # pip download pyogrio into a temp dir
    python tools/build_natural_earth.py --wheel /tmp/whl/pyogrio-0.13.0-...whl
    python tools/build_natural_earth.py --source path/to/naturalearth_lowres.shp

Only this build script may download (the pyogrio wheel, through pip); the
run-time code in ``climviz.data.coastlines`` reads the shipped files only.
"""

from __future__ import annotations

import argparse
import glob
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import shapefile  # pyshp
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon, box, mapping, shape

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "climviz" / "data" / "natural_earth"
FIXTURE = "pyogrio/tests/fixtures/naturalearth_lowres/naturalearth_lowres"
WGS84_PRJ = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)
EDGE_EPS = 1e-6  # deg: a vertex this close to lon=+-180 or lat=-90 lies on an artificial cut
MIN_HOLE_AREA = 1e-6  # deg^2: holes smaller than this are slivers left by the union


# ----------------------------------------------------------------------------- sources
def fixture_from_wheel(wheel: Path, workdir: Path) -> Path:
    """Extract the naturalearth_lowres fixture from a pyogrio wheel; return the .shp path."""
    with zipfile.ZipFile(wheel) as zf:
        members = [m for m in zf.namelist() if m.startswith(FIXTURE)]
        if not any(m.endswith(".shp") for m in members):
            raise FileNotFoundError(f"{wheel} holds no {FIXTURE}.shp")
        zf.extractall(workdir, members)
    return workdir / f"{FIXTURE}.shp"


def download_wheel(workdir: Path) -> Path:
    """``pip download --no-deps pyogrio`` into ``workdir`` (build time only)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "pyogrio",
            "-d",
            str(workdir),
        ],
        check=True,
    )
    wheels = sorted(glob.glob(str(workdir / "pyogrio-*.whl")))
    if not wheels:
        raise FileNotFoundError("pip download produced no pyogrio wheel")
    return Path(wheels[-1])


def _snap_to_dateline(xy: np.ndarray) -> np.ndarray:
    """Set longitudes within EDGE_EPS of +-180 to exactly +-180 (the file has 180.00000000000006)."""
    xy = xy.copy()
    near = np.abs(np.abs(xy[:, 0]) - 180.0) < EDGE_EPS
    xy[near, 0] = np.sign(xy[near, 0]) * 180.0
    return xy


def read_countries(shp: Path) -> tuple[list, list[str]]:
    """Country (multi)polygons (dateline longitudes snapped, made valid) and their names."""
    reader = shapefile.Reader(str(shp))
    geoms, names = [], []
    for sr in reader.iterShapeRecords():
        geom = shapely.make_valid(shapely.transform(shape(sr.shape.__geo_interface__), _snap_to_dateline))
        geoms.append(geom)
        names.append(str(sr.record["name"]))
    reader.close()
    return geoms, names


# ----------------------------------------------------------------------------- geometry
def _polygons(geom) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    return [g for part in getattr(geom, "geoms", []) for g in _polygons(part)]


def _lines(geom) -> list[LineString]:
    if isinstance(geom, LineString):
        return [geom] if geom.length > 0 else []
    return [g for part in getattr(geom, "geoms", []) for g in _lines(part)]


def land_polygons(countries: list) -> list[Polygon]:
    """Union of all countries as a list of polygons, sliver holes removed, largest first."""
    out = []
    for poly in _polygons(shapely.union_all(countries)):
        holes = [r for r in poly.interiors if Polygon(r).area > MIN_HOLE_AREA]
        out.append(shapely.normalize(Polygon(poly.exterior, holes)))
    return sorted(out, key=lambda p: -p.area)


def _on_cut(a: np.ndarray, b: np.ndarray) -> bool:
    """Is segment a-b an artificial edge (along lon=+-180 or lat=-90)?"""
    along_dateline = abs(abs(a[0]) - 180) < EDGE_EPS and abs(abs(b[0]) - 180) < EDGE_EPS
    along_pole = a[1] < -90 + EDGE_EPS and b[1] < -90 + EDGE_EPS
    return along_dateline or along_pole


def coastline_lines(land: list[Polygon]) -> list[LineString]:
    """Land rings cut into lines at the artificial dateline / pole edges."""
    out = []
    for poly in land:
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)
            keep = np.array([not _on_cut(xy[k], xy[k + 1]) for k in range(len(xy) - 1)])
            if keep.all():
                out.append(LineString(xy))
                continue
            # rotate so that the ring starts just after a cut segment, then split into runs
            start = int(np.flatnonzero(~keep)[0]) + 1
            seg = np.roll(keep, -start)
            pts = np.concatenate([xy[:-1], xy[:-1]])[start : start + len(xy)]  # len(xy) = nseg + 1
            run: list[np.ndarray] = []
            for k, ok in enumerate(seg):
                if ok:
                    if not run:
                        run.append(pts[k])
                    run.append(pts[k + 1])
                elif run:
                    out.append(LineString(run))
                    run = []
            if run:
                out.append(LineString(run))
    return [line for line in out if len(line.coords) >= 2]


def ocean_polygon(land: list[Polygon]) -> list[Polygon]:
    """The globe box (-180..180, -90..90) minus land, without enclosed seas.

    The only water body the union of countries encloses is the Caspian Sea,
    which Natural Earth files as a lake, not ocean; it stays a hole in land and
    a ring in the coastline, as in Natural Earth's own layers.
    """
    water = _polygons(box(-180, -90, 180, 90).difference(MultiPolygon(land)))
    return [p for p in water if p.exterior.intersects(box(-180, -90, 180, 90).exterior)]


def border_lines(countries: list, names: list[str]) -> list[tuple[LineString, str, str]]:
    """Boundary lines shared by two countries, merged: ``(line, left_name, right_name)``."""
    tree = shapely.STRtree(countries)
    i_idx, j_idx = tree.query(countries, predicate="intersects")
    out = []
    for i, j in zip(i_idx, j_idx):
        if i >= j:
            continue
        shared = countries[i].boundary.intersection(countries[j].boundary)
        lines = _lines(shared)
        if not lines:
            continue
        merged = shapely.line_merge(MultiLineString(lines))
        for line in _lines(merged):
            out.append((line, names[i], names[j]))
    return out


# ----------------------------------------------------------------------------- writing
def _write(path: Path, shape_type: int, fields: list[tuple], records: list[tuple], geoms: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with shapefile.Writer(str(path.with_suffix("")), shapeType=shape_type, encoding="utf-8") as w:
        for field in fields:
            w.field(*field)
        for rec, geom in zip(records, geoms):
            w.record(*rec)
            w.shape(mapping(geom))
    path.with_suffix(".prj").write_text(WGS84_PRJ)
    path.with_suffix(".cpg").write_text("UTF-8")


def build(source_shp: Path, out_dir: Path = DEFAULT_OUT) -> dict[str, Path]:
    """Derive and write the four layers; return ``{layer: .shp path}``."""
    countries, names = read_countries(source_shp)
    land = land_polygons(countries)
    coast = coastline_lines(land)
    ocean = ocean_polygon(land)
    borders = border_lines(countries, names)

    root = out_dir / "shapefiles" / "natural_earth"
    phys, cult = root / "physical", root / "cultural"
    phys_fields = [("featurecla", "C", 32), ("scalerank", "N", 4, 0), ("min_zoom", "N", 6, 1)]
    paths = {
        "land": phys / "ne_110m_land.shp",
        "coastline": phys / "ne_110m_coastline.shp",
        "ocean": phys / "ne_110m_ocean.shp",
        "admin_0_boundary_lines_land": cult / "ne_110m_admin_0_boundary_lines_land.shp",
    }
    _write(paths["land"], shapefile.POLYGON, phys_fields, [("Land", 0, 0.0)] * len(land), land)
    _write(paths["coastline"], shapefile.POLYLINE, phys_fields, [("Coastline", 0, 0.0)] * len(coast), coast)
    _write(paths["ocean"], shapefile.POLYGON, phys_fields, [("Ocean", 0, 0.0)] * len(ocean), ocean)
    _write(
        paths["admin_0_boundary_lines_land"],
        shapefile.POLYLINE,
        [("featurecla", "C", 32), ("adm0_left", "C", 40), ("adm0_right", "C", 40)],
        [("International boundary (verify)", a, b) for _, a, b in borders],
        [line for line, _, _ in borders],
    )
    (out_dir / "SOURCE.txt").write_text(
        "Natural Earth 110m (public domain, https://www.naturalearthdata.com/), derived by\n"
        "tools/build_natural_earth.py from the admin-0 country outlines shipped in the pyogrio\n"
        f"wheel ({FIXTURE}.shp): land = union of countries ({len(land)} polygons),\n"
        f"coastline = land boundary without the dateline/pole cut edges ({len(coast)} lines),\n"
        f"ocean = globe box minus land and the Caspian ({len(ocean)} polygon(s)), admin-0 boundary lines = edges\n"
        f"shared by two countries ({len(borders)} lines). Antarctica is included (closed along\n"
        "lat = -90 as in Natural Earth's own land layer).\n"
    )
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--wheel", type=Path, help="a pyogrio wheel already on disk")
    group.add_argument("--source", type=Path, help="naturalearth_lowres.shp already extracted")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output directory (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if args.source is not None:
            src = args.source
        else:
            wheel = args.wheel if args.wheel is not None else download_wheel(tmp_path)
            src = fixture_from_wheel(wheel, tmp_path)
        paths = build(src, args.out)
    total = 0
    for layer, shp in paths.items():
        size = sum(f.stat().st_size for f in shp.parent.glob(shp.stem + ".*"))
        total += size
        print(f"{layer:30s} {size / 1024:7.1f} KB  {shp.relative_to(args.out)}")
    print(f"{'total':30s} {total / 1024:7.1f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
