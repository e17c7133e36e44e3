"""Coarsening operator: band-limit on the sphere, then sample on a coarser grid.

TAUDiff (Sundar et al., arXiv 2412.13627) makes its coarse inputs by
low-pass filtering the fine truth with spherical wavelets. A spherical
wavelet (needlet) scaling function is an isotropic window in spherical
harmonic degree ``l``: one for large scales, zero beyond a band limit, smooth
in between. :func:`lowpass_gain` is that window: a raised-cosine roll-off

    g(l) = 1                                         l <= l0 = taper * lmax_keep
    g(l) = 0.5 * (1 + cos(pi (l - l0) / (lmax_keep - l0)))    l0 < l < lmax_keep
    g(l) = 0                                         l >= lmax_keep

applied to every order ``m`` (so the filter is rotation invariant). A smooth
window avoids the Gibbs ringing of a sharp truncation (``taper=1``).

:func:`coarsen` filters to the coarse grid's resolvable degree and then
*evaluates the band-limited field on the coarse grid* by an inverse transform
there. That is exact sampling, not averaging: for a Gaussian fine grid the
coarse grid is the Gaussian grid with ``nlat / factor`` rows, on which a field
of degree ``< nlat / factor`` is again exactly analysable.

Grids (``lat_dim`` ascending or descending, ``lon_dim`` regular and global):

* Gaussian latitudes (``climviz.data.grid.gaussian_latitudes``), as the
  embedded defaults use -> ``legendre-gauss`` transform, Gaussian coarse grid.
* Equally spaced latitudes *including both poles* (ERA5's 721 x 1440, 1 deg
  181 x 360) -> ``equiangular`` (Clenshaw-Curtis) transform; the coarse grid
  is every ``factor``-th latitude, so ``(nlat - 1) % factor == 0``. The
  quadrature is exact only for band limits below about ``nlat / 2``; finer
  scales in the input alias weakly into the kept degrees.
* Anything else (cell-centred grids such as 180 x 360 at +-89.5, regional
  grids) raises ``ValueError``: regrid to one of the two first.

Wind components are not smooth scalar fields at the poles, so a Dataset holding
both ``u`` and ``v`` (names in ``vector``) is filtered as one tangent vector
field through the vector transform (spheroidal/toroidal coefficients, same
gain). torch (torch-harmonics) is only the numerical kernel here: xarray in,
xarray out.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xarray as xr

from climviz.data.grid import gaussian_latitudes

_BATCH = 64  # 2-D fields per transform call, bounds memory for long time series


def lowpass_gain(degree, *, lmax_keep: int, taper: float = 0.7) -> np.ndarray:
    """The isotropic low-pass window ``g(l)`` (see module docstring).

    Parameters
    ----------
    degree : array_like of int
        Spherical harmonic degrees ``l``.
    lmax_keep : int
        Band limit: ``g(l) = 0`` for ``l >= lmax_keep``.
    taper : float
        Start of the roll-off as a fraction of ``lmax_keep`` (0 < taper <= 1);
        ``1`` is a sharp truncation.
    """
    if not 0.0 < taper <= 1.0:
        raise ValueError(f"taper must be in (0, 1], got {taper}")
    if lmax_keep < 1:
        raise ValueError(f"lmax_keep must be >= 1, got {lmax_keep}")
    l = np.asarray(degree, dtype=float)
    l0 = taper * lmax_keep
    ramp = 0.5 * (1.0 + np.cos(np.pi * (l - l0) / max(lmax_keep - l0, 1e-12)))
    return np.where(l >= lmax_keep, 0.0, np.where(l <= l0, 1.0, ramp))


def grid_kind(lat) -> str:
    """``"legendre-gauss"`` or ``"equiangular"`` (poles included) for latitudes in degrees."""
    lat = np.sort(np.asarray(lat, dtype=float))
    n = lat.size
    if n >= 2 and np.allclose(lat, gaussian_latitudes(n), atol=1e-4, rtol=0):
        return "legendre-gauss"
    if n >= 3 and np.allclose(lat, np.linspace(-90.0, 90.0, n), atol=1e-4, rtol=0):
        return "equiangular"
    raise ValueError(
        f"unsupported grid: {n} latitudes from {lat[0]:.4g} to {lat[-1]:.4g} are neither Gaussian "
        "nor equally spaced with both poles; regrid to a Gaussian or pole-inclusive regular grid first"
    )


def _check_lon(lon) -> None:
    lon = np.asarray(lon, dtype=float)
    step = 360.0 / lon.size
    if not np.allclose(np.diff(lon), step, atol=1e-6 * 360):
        raise ValueError(
            f"unsupported grid: longitudes must be {lon.size} equally spaced points covering 360 deg (step {step:g})"
        )


def coarse_grid(lat, lon, factor: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Coarse latitudes, longitudes (same order and origin as given) and grid kind.

    Gaussian ``nlat`` -> Gaussian ``nlat // factor``; equiangular with poles ->
    every ``factor``-th latitude; longitudes ``lon[0] + k * 360 / (nlon // factor)``.
    """
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    kind = grid_kind(lat)
    _check_lon(lon)
    nlat, nlon = lat.size, lon.size
    if factor < 1 or nlon % factor:
        raise ValueError(f"factor {factor} must divide the {nlon} longitudes")
    if kind == "legendre-gauss":
        if nlat % factor:
            raise ValueError(f"factor {factor} must divide the {nlat} Gaussian latitudes")
        lat_c = gaussian_latitudes(nlat // factor)
    else:
        if (nlat - 1) % factor:
            raise ValueError(f"factor {factor} must divide the {nlat - 1} latitude intervals")
        lat_c = np.linspace(-90.0, 90.0, (nlat - 1) // factor + 1)
    if lat[0] > lat[-1]:
        lat_c = lat_c[::-1].copy()
    lon_c = lon[0] + np.arange(nlon // factor) * (360.0 / (nlon // factor))
    return lat_c, lon_c, kind


def resolvable_degree(nlat: int, nlon: int, kind: str) -> int:
    """Band limit (exclusive) a grid represents exactly: Gaussian ``nlat``, equiangular ``nlat - 1``."""
    lmax = nlat if kind == "legendre-gauss" else nlat - 1
    return min(lmax, nlon // 2)


# --- the numerical kernel (torch-harmonics), numpy in / numpy out -------------


@lru_cache(maxsize=8)
def _transforms(nlat, nlon, kind, nlat_out, nlon_out, kind_out, lmax, vector):
    import torch_harmonics as th

    fwd, inv = (th.RealVectorSHT, th.InverseRealVectorSHT) if vector else (th.RealSHT, th.InverseRealSHT)
    sht = fwd(nlat, nlon, lmax=lmax, mmax=lmax, grid=kind, csphase=False).double()
    isht = inv(nlat_out, nlon_out, lmax=lmax, mmax=lmax, grid=kind_out, csphase=False).double()
    return sht, isht


def _filter_kernel(x, *, kind, out_shape, kind_out, lmax_keep, taper, vector, north_first):
    """Low-pass ``x`` ``[..., (2,) nlat, nlon]`` and evaluate on ``out_shape`` ``(nlat_out, nlon_out)``."""
    import torch

    x = np.asarray(x, dtype=np.float64)
    nlat, nlon = x.shape[-2:]
    lead = x.shape[: -3 if vector else -2]
    if not north_first:
        x = x[..., ::-1, :]
    sht, isht = _transforms(nlat, nlon, kind, *out_shape, kind_out, lmax_keep, vector)
    gain = torch.as_tensor(lowpass_gain(np.arange(lmax_keep), lmax_keep=lmax_keep, taper=taper)).reshape(
        -1, 1
    )
    flat = x.reshape((-1,) + x.shape[len(lead) :])
    out = np.empty((flat.shape[0],) + x.shape[len(lead) : -2] + tuple(out_shape))
    for i in range(0, flat.shape[0], _BATCH):
        coeffs = sht(torch.from_numpy(np.ascontiguousarray(flat[i : i + _BATCH])))
        out[i : i + _BATCH] = isht(coeffs * gain).numpy()
    out = out.reshape(lead + out.shape[1:])
    if not north_first:
        out = out[..., ::-1, :]
    return np.ascontiguousarray(out)


# --- xarray front end ---------------------------------------------------------


def _apply(fields, lat, lon, lat_out, lon_out, kind, kind_out, *, lmax_keep, taper, lat_dim, lon_dim):
    """Filter one DataArray (scalar) or a pair (vector) onto ``(lat_out, lon_out)``."""
    vector = len(fields) == 2
    nlat, nlon = len(lat), len(lon)
    lmax_fine = resolvable_degree(nlat, nlon, kind)
    if not 1 <= lmax_keep <= lmax_fine:
        raise ValueError(f"lmax_keep={lmax_keep} must be in [1, {lmax_fine}] for a {nlat}x{nlon} {kind} grid")
    north_first = bool(np.asarray(lat)[0] > np.asarray(lat)[-1])
    tmp_lat, tmp_lon = f"__{lat_dim}_out", f"__{lon_dim}_out"
    kernel_kw = dict(
        kind=kind,
        out_shape=(len(lat_out), len(lon_out)),
        kind_out=kind_out,
        lmax_keep=int(lmax_keep),
        taper=float(taper),
        vector=vector,
        north_first=north_first,
    )

    def kernel(*xs):
        if vector:
            uv = np.stack(np.broadcast_arrays(*xs), axis=-3)
            out = _filter_kernel(uv, **kernel_kw)
            return out[..., 0, :, :], out[..., 1, :, :]
        return _filter_kernel(xs[0], **kernel_kw)

    if vector:
        fields = xr.broadcast(*fields)
    res = xr.apply_ufunc(
        kernel,
        *fields,
        input_core_dims=[[lat_dim, lon_dim]] * len(fields),
        output_core_dims=[[tmp_lat, tmp_lon]] * len(fields),
        dask="parallelized",
        output_dtypes=[np.float64] * len(fields),
        dask_gufunc_kwargs={"output_sizes": {tmp_lat: len(lat_out), tmp_lon: len(lon_out)}},
        keep_attrs=True,
    )
    res = res if vector else (res,)
    out = []
    for r, f in zip(res, fields):
        r = r.rename({tmp_lat: lat_dim, tmp_lon: lon_dim})
        r = r.assign_coords(
            {lat_dim: (lat_dim, lat_out, f[lat_dim].attrs), lon_dim: (lon_dim, lon_out, f[lon_dim].attrs)}
        )
        out.append(r.astype(f.dtype) if np.issubdtype(f.dtype, np.floating) else r)
    return out


def _spatial(da, lat_dim, lon_dim) -> bool:
    return lat_dim in da.dims and lon_dim in da.dims


def _map(data, lat_out_fn, *, lmax_keep, taper, lat_dim, lon_dim, vector, history):
    """Shared body of :func:`spectral_lowpass` and :func:`coarsen`."""
    for d in (lat_dim, lon_dim):
        if d not in data.dims:
            raise ValueError(f"dimension {d!r} not found in {tuple(data.dims)}")
    lat, lon = data[lat_dim].values, data[lon_dim].values
    lat_out, lon_out, kind, kind_out, default_lmax = lat_out_fn(lat, lon)
    lmax_keep = default_lmax if lmax_keep is None else int(lmax_keep)
    if lmax_keep > default_lmax:
        raise ValueError(f"lmax_keep={lmax_keep} exceeds the output grid's resolvable degree {default_lmax}")
    kw = dict(lmax_keep=lmax_keep, taper=taper, lat_dim=lat_dim, lon_dim=lon_dim)
    args = (lat, lon, lat_out, lon_out, kind, kind_out)
    note = f"{history} (lmax_keep={lmax_keep}, taper={taper}, {kind})"
    if isinstance(data, xr.DataArray):
        (out,) = _apply([data], *args, **kw)
        out.attrs["climviz_filter"] = note
        return out
    new = {}
    pair = tuple(vector) if vector else ()
    if pair and all(n in data.data_vars and _spatial(data[n], lat_dim, lon_dim) for n in pair):
        new.update(zip(pair, _apply([data[n] for n in pair], *args, **kw)))
    for name, da in data.data_vars.items():
        if name not in new:
            new[name] = _apply([da], *args, **kw)[0] if _spatial(da, lat_dim, lon_dim) else da
    keep = {
        k: c
        for k, c in data.coords.items()
        if k not in (lat_dim, lon_dim) and lat_dim not in c.dims and lon_dim not in c.dims
    }
    out = xr.Dataset(new, coords=keep, attrs=dict(data.attrs))
    out.attrs["climviz_filter"] = note
    return out


def spectral_lowpass(
    field,
    *,
    lmax_keep: int,
    taper: float = 0.7,
    lat_dim: str = "lat",
    lon_dim: str = "lon",
    vector: tuple[str, str] | None = ("u", "v"),
):
    """Isotropic spherical-harmonic low-pass on the same grid.

    Parameters
    ----------
    field : xr.DataArray or xr.Dataset
        Any leading dims; ``(..., lat, lon)`` on a Gaussian or pole-inclusive
        regular grid. Variables without both spatial dims pass through.
    lmax_keep : int
        Degrees ``l >= lmax_keep`` are removed.
    taper : float
        Roll-off start as a fraction of ``lmax_keep`` (:func:`lowpass_gain`).
    lat_dim, lon_dim : str
        Names of the latitude and longitude dimensions.
    vector : (str, str) or None
        Dataset variables filtered together as (eastward, northward) components.

    Returns
    -------
    Same type, dims and coords as ``field``, float dtype kept.
    """

    def same(lat, lon):
        kind = grid_kind(lat)
        _check_lon(lon)
        return lat, lon, kind, kind, resolvable_degree(len(lat), len(lon), kind)

    return _map(
        field,
        same,
        lmax_keep=lmax_keep,
        taper=taper,
        lat_dim=lat_dim,
        lon_dim=lon_dim,
        vector=vector,
        history="spectral_lowpass",
    )


def coarsen(
    data,
    factor: int = 4,
    *,
    lmax_keep: int | None = None,
    taper: float = 0.7,
    lat_dim: str = "lat",
    lon_dim: str = "lon",
    vector: tuple[str, str] | None = ("u", "v"),
):
    """Band-limit ``data`` and sample it exactly on a grid ``factor`` times coarser.

    Parameters
    ----------
    data : xr.DataArray or xr.Dataset
        Any leading dims (time, member, ...), ``(..., lat, lon)``; see the module
        docstring for the supported grids.
    factor : int
        Coarsening factor in each direction (Gaussian ``nlat x nlon`` ->
        ``nlat/factor x nlon/factor``; equiangular ``nlat`` -> ``(nlat-1)/factor + 1``).
    lmax_keep : int, optional
        Band limit; default the coarse grid's resolvable degree
        (:func:`resolvable_degree`: ``nlat/factor`` for Gaussian grids).
    taper : float
        Roll-off start as a fraction of ``lmax_keep``.
    lat_dim, lon_dim : str
        Names of the latitude and longitude dimensions.
    vector : (str, str) or None
        Dataset variables filtered together as (eastward, northward) wind.

    Returns
    -------
    Same type, on the coarse grid (latitude order and longitude origin kept);
    ``attrs["climviz_filter"]`` records the settings.

    Example
    -------
    >>> from climviz.data.grid import global_grid
    >>> lat, lon = global_grid(32, 64)
    >>> da = xr.DataArray(np.ones((2, 32, 64)), dims=("time", "lat", "lon"),
    ...                   coords={"lat": lat, "lon": lon})
    >>> coarsen(da, 4).shape
    (2, 8, 16)
    """
    if int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor}")

    def to_coarse(lat, lon):
        lat_c, lon_c, kind = coarse_grid(lat, lon, int(factor))
        return lat_c, lon_c, kind, kind, resolvable_degree(len(lat_c), len(lon_c), kind)

    return _map(
        data,
        to_coarse,
        lmax_keep=lmax_keep,
        taper=taper,
        lat_dim=lat_dim,
        lon_dim=lon_dim,
        vector=vector,
        history=f"coarsen(factor={int(factor)})",
    )
