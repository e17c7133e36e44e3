"""Named lat/lon boxes (Nino3.4, Europe, ...) and custom boxes.

Longitudes of a :class:`Region` are in ``[0, 360]`` degrees east. A box whose
``lon_min > lon_max`` wraps through the 0-meridian in these coordinates (for
example Europe, 350E..40E). ``lon_min=0, lon_max=360`` is the full circle.
Box edges are inclusive.

Example
-------
>>> import numpy as np
>>> from climviz.data.regions import get_region
>>> r = get_region("nino34")
>>> r.lon_min, r.lon_max
(190.0, 240.0)
>>> get_region("-10,10,-20,30").wraps
True
>>> r.mask(np.array([-10.0, 0.0, 10.0]), np.array([180.0, 200.0])).astype(int)
array([[0, 0],
       [0, 1],
       [0, 0]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr


@dataclass(frozen=True)
class Region:
    """A lat/lon box on the sphere.

    Parameters
    ----------
    name : str
        Display name.
    lat_min, lat_max : float
        Southern and northern edges, degrees north, ``-90 <= lat_min < lat_max <= 90``.
    lon_min, lon_max : float
        Western and eastern edges, degrees east in ``[0, 360]``. ``lon_min > lon_max``
        means the box wraps through the 0-meridian. Use :meth:`from_box` (or
        :func:`get_region`) for longitudes given in ``-180..180``.
    description : str
        One line for tooltips.
    """

    name: str
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    description: str = ""

    def __post_init__(self) -> None:
        for v in (self.lat_min, self.lat_max):
            if not -90.0 <= v <= 90.0:
                raise ValueError(f"region {self.name!r}: latitude {v} outside [-90, 90]")
        if not self.lat_min < self.lat_max:
            raise ValueError(
                f"region {self.name!r}: lat_min ({self.lat_min}) must be < lat_max ({self.lat_max})"
            )
        for v in (self.lon_min, self.lon_max):
            if not 0.0 <= v <= 360.0:
                raise ValueError(
                    f"region {self.name!r}: longitude {v} outside [0, 360]; "
                    "use Region.from_box or get_region for -180..180 longitudes"
                )
        if self.lon_min == self.lon_max:
            raise ValueError(f"region {self.name!r}: lon_min == lon_max ({self.lon_min}), empty box")

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_box(
        cls,
        name: str,
        lat_min: float,
        lat_max: float,
        lon_min: float,
        lon_max: float,
        description: str = "",
    ) -> Region:
        """Build a region from longitudes in either ``-180..180`` or ``0..360``.

        After normalising both longitudes to ``[0, 360)``, an eastern edge of 0 becomes
        360 (``-80..0`` is 280E..360E, not a wrap), a span of exactly 360 degrees is
        the full circle, and ``lon_min > lon_max`` means the box crosses 0E.
        """
        lon_min, lon_max = float(lon_min), float(lon_max)
        if abs((lon_max - lon_min) - 360.0) < 1e-9:
            return cls(name, float(lat_min), float(lat_max), 0.0, 360.0, description)
        lo, hi = lon_min % 360.0, lon_max % 360.0
        if hi == 0.0:
            hi = 360.0
        return cls(name, float(lat_min), float(lat_max), lo, hi, description)

    # ------------------------------------------------------------------ queries
    @property
    def wraps(self) -> bool:
        """True when the box crosses 0E (``lon_min > lon_max``)."""
        return self.lon_min > self.lon_max

    @property
    def is_global_lon(self) -> bool:
        return self.lon_min == 0.0 and self.lon_max == 360.0

    def _lon_ok(self, lon: np.ndarray) -> np.ndarray:
        lon = np.mod(np.asarray(lon, dtype=float), 360.0)
        if self.is_global_lon:
            return np.ones(lon.shape, dtype=bool)
        if self.wraps:
            return (lon >= self.lon_min) | (lon <= self.lon_max)
        return (lon >= self.lon_min) & (lon <= self.lon_max)

    def _lat_ok(self, lat: np.ndarray) -> np.ndarray:
        lat = np.asarray(lat, dtype=float)
        return (lat >= self.lat_min) & (lat <= self.lat_max)

    def mask(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Boolean mask of grid points inside the box.

        Parameters
        ----------
        lat : array ``[nlat]``, degrees north (any order).
        lon : array ``[nlon]``, degrees east (any convention; taken modulo 360).

        Returns
        -------
        np.ndarray of bool, shape ``[nlat, nlon]``.
        """
        return self._lat_ok(lat)[:, None] & self._lon_ok(lon)[None, :]

    def select(
        self,
        da: xr.DataArray,
        *,
        lat_dim: str = "lat",
        lon_dim: str = "lon",
        monotonic_lon: bool = False,
    ) -> xr.DataArray:
        """Subset ``da`` to the box, with longitudes contiguous.

        For a box that wraps through 0E the western part (``lon >= lon_min``) is
        put before the eastern part (``lon <= lon_max``), so the columns are
        neighbours on the sphere and an FFT over the box sees no jump. The
        longitude values stay in ``[0, 360)`` (so they are not monotonic for a
        wrapping box) unless ``monotonic_lon=True``, which shifts the western part
        by -360 (e.g. Europe becomes -10..40) for plotting.

        Parameters
        ----------
        da : DataArray with dims including ``(lat_dim, lon_dim)``.

        Returns
        -------
        DataArray with the same dims, ``lat_dim``/``lon_dim`` cut to the box.

        Raises
        ------
        ValueError
            If no grid point falls in the box (the message names the region and grid).
        """
        lat = np.asarray(da[lat_dim].values, dtype=float)
        lon = np.asarray(da[lon_dim].values, dtype=float)
        ilat = np.flatnonzero(self._lat_ok(lat))
        lon360 = np.mod(lon, 360.0)
        if self.wraps:
            order = np.argsort(lon360, kind="stable")
            west = [i for i in order if lon360[i] >= self.lon_min]
            east = [i for i in order if lon360[i] <= self.lon_max]
            ilon = np.array(west + east, dtype=int)
        else:
            ilon = np.flatnonzero(self._lon_ok(lon))
            # keep the grid's own order, but if the grid itself wraps inside the box
            # (e.g. lon given as -180..180 and a box around 180E), sort by lon360
            if ilon.size and not self.is_global_lon:
                ilon = ilon[np.argsort(lon360[ilon], kind="stable")]
        if ilat.size == 0 or ilon.size == 0:
            raise ValueError(
                f"region {self.name!r} ({self._box_text()}) selects no points on {_grid_text(lat, lon)}"
            )
        out = da.isel({lat_dim: ilat, lon_dim: ilon})
        if monotonic_lon and self.wraps:
            vals = np.mod(out[lon_dim].values.astype(float), 360.0)
            vals = np.where(vals >= self.lon_min, vals - 360.0, vals)
            out = out.assign_coords({lon_dim: (lon_dim, vals, out[lon_dim].attrs)})
        elif monotonic_lon and np.any(np.diff(out[lon_dim].values.astype(float)) <= 0):
            # a box across 180E on a -180..180 grid: in 0..360 its columns are in increasing order
            vals = np.mod(out[lon_dim].values.astype(float), 360.0)
            out = out.assign_coords({lon_dim: (lon_dim, vals, out[lon_dim].attrs)})
        return out

    def _box_text(self) -> str:
        return f"lat {self.lat_min}..{self.lat_max}, lon {self.lon_min}..{self.lon_max}"


def _grid_text(lat: np.ndarray, lon: np.ndarray) -> str:
    def rng(a: np.ndarray) -> str:
        return f"[{a.min():g}..{a.max():g}, n={a.size}]" if a.size else "[empty]"

    return f"grid lat {rng(lat)} lon {rng(lon)}"


REGIONS: dict[str, Region] = {
    r.name: r
    for r in (
        Region("Global", -90.0, 90.0, 0.0, 360.0, "whole globe"),
        Region("Nino3.4", -5.0, 5.0, 190.0, 240.0, "5S-5N, 170W-120W: ENSO index box"),
        Region("Nino3", -5.0, 5.0, 210.0, 270.0, "5S-5N, 150W-90W: eastern equatorial Pacific"),
        Region("Tropics", -23.5, 23.5, 0.0, 360.0, "23.5S-23.5N"),
        Region("Europe", 35.0, 72.0, 350.0, 40.0, "35N-72N, 10W-40E (crosses 0E)"),
        Region("North Atlantic", 0.0, 65.0, 280.0, 360.0, "0-65N, 80W-0"),
        Region("Arctic", 66.0, 90.0, 0.0, 360.0, "66N-90N"),
    )
}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_BY_KEY = {_key(k): v for k, v in REGIONS.items()}


def get_region(spec: Region | str | tuple[float, float, float, float] | list[float]) -> Region:
    """Resolve a region specification.

    Parameters
    ----------
    spec : Region, str or 4-sequence
        A :class:`Region` (returned as is); a name from :data:`REGIONS`
        (case-, space- and punctuation-insensitive: ``"nino34"``, ``"NINO3.4"``,
        ``"north atlantic"``); a box ``(lat_min, lat_max, lon_min, lon_max)`` or the
        string ``"lat_min,lat_max,lon_min,lon_max"``, longitudes in ``-180..180`` or
        ``0..360`` (see :meth:`Region.from_box`).

    Example
    -------
    >>> get_region("Europe").wraps
    True
    >>> get_region((-5, 5, -170, -120)).lon_min
    190.0
    """
    if isinstance(spec, Region):
        return spec
    if isinstance(spec, str):
        key = _key(spec)
        if key in _BY_KEY:
            return _BY_KEY[key]
        parts = [p for p in spec.replace(";", ",").split(",") if p.strip()]
        if len(parts) != 4:
            raise ValueError(
                f"unknown region {spec!r}: expected one of {sorted(REGIONS)} "
                "or a box 'lat_min,lat_max,lon_min,lon_max'"
            )
        try:
            box = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"region box {spec!r}: all four values must be numbers") from None
        return Region.from_box(f"box({spec.strip()})", *box)
    try:
        box = [float(v) for v in spec]
    except TypeError:
        raise TypeError(f"cannot make a region from {spec!r}") from None
    if len(box) != 4:
        raise ValueError(f"region box needs 4 values (lat_min, lat_max, lon_min, lon_max), got {spec!r}")
    name = "box(" + ",".join(f"{v:g}" for v in box) + ")"
    return Region.from_box(name, *box)
