"""Spectral regridding between global latitude-longitude grids (numpy inside, xarray at the edge).

A field on a global source grid is expanded in spherical harmonics
``Y_l^m`` up to the highest degree both grids resolve (analysis), and the
truncated expansion is evaluated on the target grid (synthesis):

- longitude: an FFT per latitude row gives the order-``m`` Fourier coefficients
  ``F_m(lat)`` (the rows must go round the whole circle, evenly spaced);
- latitude: for each ``m`` the coefficients of the associated Legendre functions
  ``P_l^m`` (``torch_harmonics.legendre.legpoly``, orthonormal) are fitted to
  ``F_m`` by least squares weighted with the source grid's quadrature weights.
  Where the quadrature is exact for the products (a Gaussian source) this is the
  quadrature spherical-harmonic transform of ``torch_harmonics.RealSHT``; on
  regular grids it stays exact for any field band-limited below the truncation,
  where Clenshaw-Curtis or Fejer quadrature alone is only approximate. The
  degree-0 coefficient is the source's quadrature mean, so the global area mean
  is kept exactly (to rounding) on a Gaussian target.
- synthesis: ``G_m(lat') = sum_l a_lm P_l^m(sin lat')`` and an inverse FFT on the
  target longitudes, i.e. ``torch_harmonics.InverseRealSHT`` on any latitudes.

Recognised global grids (latitudes ascending, either order on input):
``legendre-gauss`` (Gaussian), ``equiangular`` (regular, both poles included,
``-90 .. 90``) and ``regular`` (regular cell-centred, no poles,
``-90 + d/2 .. 90 - d/2``). Regional or irregular grids raise
:class:`~climviz.data.canonical.DataError` naming why.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import xarray as xr

from climviz.data.canonical import DataError
from climviz.data.coarsen import resolvable_degree
from climviz.data.grid import LAT, LON, gaussian_latitudes, grid_mismatch

GAUSSIAN, POLES, CENTRED = "legendre-gauss", "equiangular", "regular"
_LABELS = {
    GAUSSIAN: "Gaussian {n}",
    POLES: "regular {n} (equiangular, poles included)",
    CENTRED: "regular {n} (equiangular, cell-centred, no poles)",
}
_TOL = 1e-3  # degrees, for recognising a grid


@dataclass(frozen=True)
class GlobalGrid:
    """A recognised global grid: ascending latitudes ``[nlat]``, longitudes ``[nlon]`` in ``[0, 360)``."""

    lat: tuple
    lon: tuple
    kind: str  # GAUSSIAN, POLES or CENTRED

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.lat), len(self.lon)

    def describe(self) -> str:
        """``"Gaussian 48x96"``, ``"regular 73x144 (equiangular, poles included)"``, ..."""
        return _LABELS[self.kind].format(n=f"{self.shape[0]}x{self.shape[1]}")

    def band_limit(self) -> int:
        """Degrees ``l < band_limit`` the grid resolves (see :func:`climviz.data.coarsen.resolvable_degree`)."""
        return resolvable_degree(*self.shape, self.kind)


def global_grid_of(lat, lon, where: str = "the data") -> GlobalGrid:
    """Classify ``lat, lon`` (degrees) as a global grid, or raise :class:`DataError` saying why not."""
    lat = np.sort(np.asarray(lat, dtype=float))
    lon = np.sort(np.mod(np.asarray(lon, dtype=float), 360.0))
    why = f"unsupported grid in {where} for regridding (it needs a global grid)"
    if lon.size < 4 or lat.size < 2:
        raise DataError(f"{why}: {lat.size}x{lon.size} points are too few")
    gaps = np.diff(np.append(lon, lon[0] + 360.0))
    if not np.allclose(gaps, 360.0 / lon.size, atol=_TOL, rtol=0):
        if np.allclose(gaps[:-1], gaps[0], atol=_TOL, rtol=0):
            raise DataError(
                f"{why}: longitudes {lon[0]:g} to {lon[-1]:g} cover {lon.size * gaps[0]:g} of 360 "
                f"degrees (a regional grid, missing the periodic longitude)"
            )
        raise DataError(
            f"{why}: longitudes are not evenly spaced (spacings {np.unique(np.round(gaps, 4)).tolist()[:6]})"
        )
    n = lat.size
    candidates = {
        GAUSSIAN: gaussian_latitudes(n),
        POLES: np.linspace(-90.0, 90.0, n),
        CENTRED: -90.0 + (np.arange(n) + 0.5) * 180.0 / n,
    }
    for kind, ref in candidates.items():
        if np.allclose(lat, ref, atol=_TOL, rtol=0):
            return GlobalGrid(tuple(lat), tuple(lon), kind)
    step = np.diff(lat)
    if np.allclose(step, step[0], atol=_TOL, rtol=0):
        if lat[0] - step[0] > -90.0 + _TOL or lat[-1] + step[0] < 90.0 - _TOL:
            raise DataError(
                f"{why}: latitudes {lat[0]:g} to {lat[-1]:g} (step {step[0]:g}) do not reach the "
                f"poles (a regional grid)"
            )
        raise DataError(
            f"{why}: latitudes {lat[0]:g} to {lat[-1]:g} (step {step[0]:g}) neither include both "
            f"poles nor sit half a step from them"
        )
    raise DataError(f"{why}: latitudes {lat[0]:g} to {lat[-1]:g} are unevenly spaced and not Gaussian")


def quadrature_weights(grid: GlobalGrid) -> np.ndarray:
    """Weights ``[nlat]`` (ascending latitude, sum 2) integrating polynomials in ``sin(lat)``.

    Gauss-Legendre (exact to degree ``2 nlat - 1``), Clenshaw-Curtis with poles and
    Fejer's first rule cell-centred (both exact to degree ``nlat - 1``).
    """
    n = grid.shape[0]
    if grid.kind == GAUSSIAN:
        return np.polynomial.legendre.leggauss(n)[1]
    if grid.kind == POLES:
        from torch_harmonics.quadrature import clenshaw_curtiss_weights

        return clenshaw_curtiss_weights(n, -1.0, 1.0)[1].numpy()
    theta = (2 * np.arange(n) + 1) * np.pi / (2 * n)  # Fejer's first rule (Waldvogel 2006, Eq. 2.4)
    j = np.arange(1, n // 2 + 1)
    return (2.0 / n) * (1.0 - 2.0 * (np.cos(2 * np.outer(theta, j)) / (4 * j**2 - 1)).sum(1))


def _legendre(grid: GlobalGrid, degrees: int) -> np.ndarray:
    """Orthonormal ``P_l^m(sin lat)`` ``[m, l, nlat]`` for ``m, l < degrees`` (zero where ``m > l``)."""
    import torch
    from torch_harmonics.legendre import legpoly

    x = torch.from_numpy(np.sin(np.deg2rad(np.asarray(grid.lat))))
    return legpoly(degrees, degrees, x, norm="ortho").numpy()


@functools.lru_cache(maxsize=8)
def _operator(src: GlobalGrid, dst: GlobalGrid, degrees: int) -> np.ndarray:
    """Latitude operators ``R [m, nlat_dst, nlat_src]``: order-``m`` Fourier coefficients on the
    source latitudes -> on the target latitudes, through degrees ``m <= l < degrees``."""
    w = quadrature_weights(src)
    sw = np.sqrt(w)
    p_src, p_dst = _legendre(src, degrees), _legendre(dst, degrees)
    mean = w / w.sum()  # degree 0: the quadrature mean, kept exactly
    out = np.empty((degrees, dst.shape[0], src.shape[0]))
    for m in range(degrees):
        first = max(m, 1)  # m = 0: l = 0 is the mean, fitted apart
        basis = p_src[m, first:degrees].T  # [nlat_src, n_l]
        fit = np.linalg.pinv(sw[:, None] * basis, rcond=1e-12) * sw  # weighted least squares [n_l, nlat_src]
        out[m] = p_dst[m, first:degrees].T @ fit
        if m == 0:
            out[0] = out[0] @ (np.eye(src.shape[0]) - np.outer(np.ones(src.shape[0]), mean)) + mean
    return out


def regrid_values(
    values: np.ndarray, src: GlobalGrid, dst: GlobalGrid, degrees: int | None = None
) -> np.ndarray:
    """Regrid ``values [..., nlat_src, nlon_src]`` (ascending lat, lon as in ``src``) to ``[..., nlat_dst, nlon_dst]``.

    ``degrees`` (default: what both grids resolve) is the band limit: ``l < degrees``.
    Returns float64. NaN anywhere in a field spreads over the whole field.
    """
    degrees = degrees or common_band_limit(src, dst)
    orders = np.arange(degrees)
    shift_src = np.exp(-1j * orders * np.deg2rad(src.lon[0]))  # samples start at lon[0], not 0
    shift_dst = np.exp(1j * orders * np.deg2rad(dst.lon[0]))
    f = np.fft.rfft(np.asarray(values, dtype=np.float64), axis=-1, norm="forward")[..., :degrees] * shift_src
    g = np.einsum("mts,...sm->...tm", _operator(src, dst, degrees), f) * shift_dst
    return np.fft.irfft(g, n=dst.shape[1], axis=-1, norm="forward")


def common_band_limit(src: GlobalGrid, dst: GlobalGrid) -> int:
    """The truncation: degrees ``l < common_band_limit`` are resolved on both grids."""
    return min(src.band_limit(), dst.band_limit())


def regridding_note(src: GlobalGrid, dst: GlobalGrid, degrees: int) -> str:
    """The one line telling the user what was done (page, CLI, ``attrs["regridding"]``)."""
    return (
        f"regridded from {src.describe()} to {dst.describe()} by spherical-harmonic transform, "
        f"truncated at degree {degrees - 1} (T{degrees - 1})"
    )


def regrid(da: xr.DataArray, lat, lon, *, where: str | None = None) -> xr.DataArray:
    """``da (..., lat, lon)`` on a global grid, regridded to the grid ``lat, lon``.

    Returns ``da`` unchanged when it is on that grid already; else a new array
    (lazy if ``da`` is Dask-backed) on ascending ``lat``, ``lon``, float32,
    with ``attrs["regridding"]`` (see :func:`regridding_note`) added.
    Raises :class:`DataError` for a regional or irregular source grid or missing
    values; ``ValueError`` when ``lat, lon`` is not a recognised global grid.

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> lat, lon = np.linspace(-90, 90, 25), np.arange(48) * 7.5
    >>> f = np.cos(np.deg2rad(lat))[:, None] ** 2 * np.cos(2 * np.deg2rad(lon))
    >>> da = xr.DataArray(f, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})
    >>> from climviz.data.grid import global_grid
    >>> out = regrid(da, *global_grid(16, 32))
    >>> out.attrs["regridding"]
    'regridded from regular 25x48 (equiangular, poles included) to Gaussian 16x32 by spherical-harmonic transform, truncated at degree 15 (T15)'
    """
    where = where or str(da.attrs.get("source_file", "the data"))
    if not grid_mismatch(da[LAT], da[LON], lat, lon):
        return da
    try:
        dst = global_grid_of(lat, lon, "the target grid")
    except DataError as err:
        raise ValueError(str(err)) from None
    src = global_grid_of(da[LAT].values, da[LON].values, where)
    da = da.sortby(LAT).assign_coords({LON: np.mod(da[LON].values.astype(float), 360.0)}).sortby(LON)
    if da.chunks is None and bool(da.isnull().any()):
        raise DataError(
            f"{where} has {int(da.isnull().sum())} missing (NaN) values; regridding needs complete fields"
        )
    degrees = common_band_limit(src, dst)
    if da.chunks is not None:
        da = da.chunk({LAT: -1, LON: -1})
    out = xr.apply_ufunc(
        lambda v: regrid_values(v, src, dst, degrees).astype(np.float32),
        da,
        input_core_dims=[[LAT, LON]],
        output_core_dims=[[LAT, LON]],
        exclude_dims={LAT, LON},
        dask="parallelized",
        output_dtypes=[np.float32],
        dask_gufunc_kwargs={"output_sizes": {LAT: dst.shape[0], LON: dst.shape[1]}},
        keep_attrs=True,
    )
    out = out.assign_coords(
        {LAT: (LAT, np.asarray(dst.lat), da[LAT].attrs), LON: (LON, np.asarray(dst.lon), da[LON].attrs)}
    )
    out = out.transpose(*da.dims)
    note = regridding_note(src, dst, degrees)
    out.attrs["regridding"] = note
    out.attrs["history"] = (
        f"{out.attrs['history']}\nclimviz {note}" if out.attrs.get("history") else f"climviz {note}"
    )
    return out
