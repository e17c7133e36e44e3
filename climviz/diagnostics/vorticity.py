"""Relative vorticity of a global wind field, computed on the sphere with torch-harmonics.

``zeta = -l (l + 1) / a * V_l`` on the vector spherical-harmonic coefficients of
``(u, v)`` (the curl, as in torch-harmonics' shallow-water solver), then back to
the grid. Unlike centred differences on the latitude-longitude grid, this has
the same resolution everywhere on the sphere: differences across the
converging meridians next to the poles divide by ``cos(lat)`` and turn
grid-scale noise there into huge spurious vorticity.

Grids: Gaussian, equiangular with poles, Lobatto. Other grids (e.g. cell-
centred regular) fall back to centred differences.
"""

from __future__ import annotations

import functools

import numpy as np
import xarray as xr

from climviz.diagnostics.spectra import EARTH_RADIUS_KM, _prepare_global

_SPECTRAL_GRIDS = ("legendre-gauss", "equiangular", "lobatto")


@functools.lru_cache(maxsize=8)
def _transforms(nlat: int, nlon: int, grid: str):
    import torch
    import torch_harmonics as th

    vsht = th.RealVectorSHT(nlat, nlon, grid=grid, csphase=False).to(torch.float64)
    isht = th.InverseRealSHT(nlat, nlon, lmax=vsht.lmax, mmax=vsht.mmax, grid=grid, csphase=False).to(
        torch.float64
    )
    return vsht, isht


def _spectral_curl(u: np.ndarray, v: np.ndarray, grid: str) -> np.ndarray:
    """``u, v [..., nlat, nlon]`` (latitude ascending, m s-1) -> vorticity (s-1), same layout."""
    import torch

    nlat, nlon = u.shape[-2:]
    vsht, isht = _transforms(nlat, nlon, grid)
    a = EARTH_RADIUS_KM * 1e3
    uv = torch.from_numpy(np.stack([u, v], axis=-3)[..., ::-1, :].copy()).to(torch.float64)  # north first
    coeffs = vsht(uv)[..., 0, :, :]  # the rotational (curl) part
    ell = torch.arange(vsht.lmax, dtype=torch.float64)[:, None]
    zeta = isht(-ell * (ell + 1) / a * coeffs)
    return zeta.numpy()[..., ::-1, :].copy()


def _centred_differences(u: xr.DataArray, v: xr.DataArray) -> xr.DataArray:
    lat = np.deg2rad(u["lat"].values)
    lon = np.deg2rad(u["lon"].values)
    a = EARTH_RADIUS_KM * 1e3
    dlon = lon[1] - lon[0]
    dv = (v.roll(lon=-1, roll_coords=False) - v.roll(lon=1, roll_coords=False)) / (2 * dlon)
    ucos = u * np.cos(lat)[:, None]
    ax = u.dims.index("lat")
    ducos = xr.DataArray(np.gradient(ucos.values, lat, axis=ax), dims=u.dims, coords=u.coords)
    return (dv - ducos) / (a * np.cos(lat)[:, None])


def relative_vorticity(u: xr.DataArray, v: xr.DataArray) -> xr.DataArray:
    """Relative vorticity (s-1) of global ``u, v (..., lat, lon)`` in m s-1, on the input's grid."""
    u = u.transpose(..., "lat", "lon")
    v = v.transpose(..., "lat", "lon")
    grid = _prepare_global(u, "lat", "lon")[1]
    if grid in _SPECTRAL_GRIDS:
        if u["lat"].values[0] > u["lat"].values[-1]:
            raise ValueError("relative_vorticity needs latitude ascending")
        if not np.all(np.diff(np.mod(u["lon"].values, 360.0)) > 0):
            raise ValueError("relative_vorticity needs longitude ascending in [0, 360)")
        values = _spectral_curl(np.asarray(u.values, np.float64), np.asarray(v.values, np.float64), grid)
        zeta = u.copy(data=values.astype(u.dtype if u.dtype.kind == "f" else np.float64))
        method = "spherical harmonics (torch-harmonics vector SHT)"
    else:
        zeta = _centred_differences(u, v)
        method = "centred differences on the latitude-longitude grid"
    return zeta.rename("vorticity").assign_attrs(
        units="s-1", standard_name="atmosphere_relative_vorticity", method=method
    )


def vortex_peaks(zeta: xr.DataArray, threshold: float) -> xr.DataArray:
    """Where ``|zeta|`` is a local maximum (3x3 neighbourhood, longitude periodic) above ``threshold``.

    The vortex centres of the downscaling evaluation: counted by ``vortex_count`` and tracked
    by :func:`~climviz.diagnostics.time_coherence.track_continuity`. Cyclones and anticyclones
    both count (the sign of ``zeta`` at the centre tells which); equal neighbours on a plateau
    are all maxima.

    Parameters
    ----------
    zeta : DataArray ``(..., lat, lon)``, a global field with longitude periodic.
    threshold : minimum ``|zeta|`` (units of ``zeta``).

    Returns
    -------
    boolean DataArray like ``zeta`` (dims ``(..., lat, lon)``), named ``vortex_peak``.

    Example
    -------
    One cyclone and one anticyclone above the threshold::

        z = np.zeros((16, 32)); z[4, 0] = 5.0; z[10, 12] = -4.0
        int(vortex_peaks(xr.DataArray(z, dims=("lat", "lon")), 1.0).sum())  # 2
    """
    from scipy.ndimage import maximum_filter

    zeta = zeta.transpose(..., "lat", "lon")
    x = np.abs(zeta.values)
    size = (1,) * (x.ndim - 2) + (3, 3)
    mode = ("nearest",) * (x.ndim - 1) + ("wrap",)
    peak = (maximum_filter(x, size=size, mode=mode) == x) & (x > threshold)
    return zeta.copy(data=peak).rename("vortex_peak").assign_attrs(threshold=threshold)


def vortex_centres(zeta: xr.DataArray, threshold: float) -> xr.Dataset:
    """Vortex centres of one field: the points of :func:`vortex_peaks`, with their vorticity.

    Parameters
    ----------
    zeta : DataArray ``(lat, lon)`` with ``lat``, ``lon`` coords in degrees.
    threshold : minimum ``|zeta|``.

    Returns
    -------
    Dataset ``(vortex)`` with ``lat``, ``lon`` (degrees) and ``zeta`` (its sign: cyclonic in the
    northern hemisphere when positive), in row-major grid order.

    Example
    -------
    ::

        c = vortex_centres(relative_vorticity(u.isel(time=0), v.isel(time=0)), 2e-5)
        c["lat"].values, c["lon"].values, np.sign(c["zeta"].values)
    """
    zeta = zeta.transpose("lat", "lon")
    i, j = np.nonzero(vortex_peaks(zeta, threshold).values)
    return xr.Dataset(
        {
            "lat": ("vortex", np.asarray(zeta["lat"].values, float)[i]),
            "lon": ("vortex", np.asarray(zeta["lon"].values, float)[j]),
            "zeta": ("vortex", zeta.values[i, j]),
        },
        attrs={"threshold": threshold},
    )
