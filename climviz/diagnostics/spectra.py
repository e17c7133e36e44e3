"""Power spectra: spherical-harmonic (global), 2-D FFT (regional box), temporal.

Spherical harmonics use ``torch_harmonics.RealSHT`` as the transform kernel
(kept in one private helper; torch is imported lazily). Everything else is
NumPy/SciPy.
"""

from __future__ import annotations

import functools

import numpy as np
import xarray as xr

from climviz.data.grid import gaussian_latitudes
from climviz.data.regions import Region, get_region

EARTH_RADIUS_KM = 6371.0
_LAT_TOL = 1e-3  # degrees, for recognising a grid


# --------------------------------------------------------------------------- SHT
def _sht_grid(lat: np.ndarray) -> str:
    """Classify ascending latitudes ``[nlat]``: the torch-harmonics grid name or 'regular'."""
    n = lat.size
    if n >= 2 and np.allclose(lat, gaussian_latitudes(n), atol=_LAT_TOL, rtol=0):
        return "legendre-gauss"
    if n >= 3 and np.allclose(lat, np.linspace(-90.0, 90.0, n), atol=_LAT_TOL, rtol=0):
        return "equiangular"
    if n >= 3:
        step = 180.0 / n
        if np.allclose(lat, -90.0 + step * (np.arange(n) + 0.5), atol=_LAT_TOL, rtol=0):
            return "regular"
        from torch_harmonics.quadrature import lobatto_weights

        cost, _ = lobatto_weights(n, -1.0, 1.0)
        if np.allclose(lat, np.rad2deg(np.arcsin(np.clip(cost.numpy(), -1, 1))), atol=_LAT_TOL, rtol=0):
            return "lobatto"
    return "unknown"


@functools.lru_cache(maxsize=8)
def _real_sht(nlat: int, nlon: int, grid: str, lmax: int, mmax: int):
    import torch
    import torch_harmonics as th

    return th.RealSHT(nlat, nlon, lmax=lmax, mmax=mmax, grid=grid, norm="ortho").to(torch.float64)


def _sht_power_kernel(x: np.ndarray, grid: str, lmax: int) -> np.ndarray:
    """Angular power per degree of real fields.

    Parameters
    ----------
    x : float array ``[..., nlat, nlon]``, latitude **north to south**, full circle in lon.
    grid : torch-harmonics grid name.
    lmax : number of degrees (``l = 0 .. lmax-1``).

    Returns
    -------
    float64 array ``[..., lmax]``: ``P_l = (|a_l0|^2 + 2 sum_{m>0} |a_lm|^2) / (4 pi)`` with
    orthonormal ``a_lm``, so ``sum_l P_l`` is the global mean of ``x**2``.
    """
    import torch

    nlat, nlon = x.shape[-2:]
    mmax = min(lmax, (nlon - 1) // 2 + 1)  # drop the (aliased) Nyquist order
    sht = _real_sht(nlat, nlon, grid, lmax, mmax)
    lead = x.shape[:-2]
    flat = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, nlat, nlon)
    out = np.empty((flat.shape[0], lmax))
    chunk = max(1, int(2**24 // (nlat * nlon)))
    with torch.no_grad():
        for i in range(0, flat.shape[0], chunk):
            coeff = sht(torch.from_numpy(flat[i : i + chunk]))  # [b, lmax, mmax] complex
            p = coeff.real**2 + coeff.imag**2
            p[..., 1:] *= 2.0
            out[i : i + chunk] = p.sum(-1).numpy() / (4.0 * np.pi)
    return out.reshape(*lead, lmax)


def _prepare_global(da: xr.DataArray, lat_dim: str, lon_dim: str) -> tuple[xr.DataArray, str]:
    """Sort lat ascending / lon by lon%360, check a full regular circle and the lat grid."""
    for d in (lat_dim, lon_dim):
        if d not in da.dims:
            raise ValueError(f"dimension {d!r} not in {da.dims}")
    lon = np.mod(np.asarray(da[lon_dim].values, dtype=float), 360.0)
    order = np.argsort(lon, kind="stable")
    da = da.isel({lon_dim: order})
    lon = lon[order]
    nlon = lon.size
    if nlon < 4 or not np.allclose(np.diff(np.r_[lon, lon[0] + 360.0]), 360.0 / nlon, atol=1e-3):
        raise ValueError(
            f"spherical-harmonic spectrum needs a global, regularly spaced longitude circle; got {nlon} "
            f"longitudes {lon.min():g}..{lon.max():g}"
        )
    lat = np.asarray(da[lat_dim].values, dtype=float)
    if lat[0] > lat[-1]:
        da = da.isel({lat_dim: slice(None, None, -1)})
        lat = lat[::-1]
    grid = _sht_grid(lat)
    if grid == "unknown":
        raise ValueError(
            f"unsupported latitude grid for the spherical-harmonic spectrum ({lat.size} latitudes "
            f"{lat.min():g}..{lat.max():g}): need a global Gaussian, equiangular-with-poles, Lobatto "
            "or cell-centred regular grid"
        )
    return da, grid


def _to_gaussian(values: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Cubic-spline interpolation along axis -2 from ascending ``lat`` to Gaussian latitudes."""
    from scipy.interpolate import CubicSpline

    return CubicSpline(lat, values, axis=-2)(gaussian_latitudes(lat.size))


def sh_power_spectrum(
    da: xr.DataArray,
    *,
    lat_dim: str = "lat",
    lon_dim: str = "lon",
    lmax: int | None = None,
) -> xr.DataArray:
    """Angular power spectrum by spherical-harmonic degree ``l`` of global fields.

    Normalisation: with orthonormal harmonics (``norm="ortho"``),
    ``P_l = (1 / 4 pi) * sum_{m=-l..l} |a_lm|^2``, so that (Parseval)
    ``sum_l P_l`` equals the area-weighted global mean of ``da**2``. The
    equality is exact (to rounding) for a field band-limited below ``lmax`` on
    a Gaussian grid, with the mean taken with the grid's quadrature weights;
    cos-lat weights agree to ~1e-4 on a 32x64 grid. Power above the
    truncation is not counted. Units are those of ``da`` squared.

    Latitude grids (recognised from the values, either order):

    - Gaussian (``climviz.data.grid.gaussian_latitudes``) -> ``legendre-gauss``,
      exact quadrature, ``lmax = nlat``;
    - equiangular including both poles (e.g. ERA5 0.25 deg, 721 rows) ->
      ``equiangular`` (Clenshaw-Curtis), ``lmax = nlat``;
    - Legendre-Gauss-Lobatto -> ``lobatto``, ``lmax = nlat - 1``;
    - regular cell-centred without poles (e.g. 1 deg, -89.5..89.5) -> the field is
      interpolated in latitude (cubic spline) onto the Gaussian latitudes of the
      same ``nlat`` and transformed there. This damps the highest degrees slightly;
      ``attrs["grid"]`` says so.

    Anything else, a regional grid, or NaNs raise ``ValueError``. Orders are
    truncated at ``m < nlon / 2`` (the Nyquist order is dropped).

    Parameters
    ----------
    da : DataArray ``(..., lat, lon)`` (any dim order), global.
    lmax : int, optional
        Number of degrees to return (``l = 0 .. lmax-1``); default from the grid.

    Returns
    -------
    DataArray ``(..., degree)`` named ``power`` with coords ``degree`` and
    ``wavelength`` (km, ``2 pi R / sqrt(l (l + 1))``, inf at ``l = 0``).

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> from climviz.data.grid import global_grid
    >>> lat, lon = global_grid(16, 32)
    >>> f = np.sin(np.deg2rad(lat))[:, None] * np.ones(32)  # ~ Y_1^0
    >>> da = xr.DataArray(f, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})
    >>> p = sh_power_spectrum(da)
    >>> int(p.argmax("degree")), round(float(p.sum()), 6), round(float((f**2).mean(1) @ np.polynomial.legendre.leggauss(16)[1] / 2), 6)
    (1, 0.333333, 0.333333)
    """
    da, grid = _prepare_global(da, lat_dim, lon_dim)
    if bool(da.isnull().any()):
        raise ValueError("spherical-harmonic spectrum needs a complete global field (found NaN)")
    other = [d for d in da.dims if d not in (lat_dim, lon_dim)]
    da = da.transpose(*other, lat_dim, lon_dim)
    lat = np.asarray(da[lat_dim].values, dtype=float)
    values = np.asarray(da.values, dtype=float)
    grid_note = grid
    if grid == "regular":
        values = _to_gaussian(values, lat)
        grid, grid_note = "legendre-gauss", "regular cell-centred, interpolated to Gaussian latitudes"
    nlat = lat.size
    lmax_grid = nlat - 1 if grid == "lobatto" else nlat
    lmax = lmax_grid if lmax is None else int(min(lmax, lmax_grid))
    power = _sht_power_kernel(values[..., ::-1, :], grid, lmax)  # torch-harmonics wants north first
    deg = np.arange(lmax)
    with np.errstate(divide="ignore"):
        wavelength = 2 * np.pi * EARTH_RADIUS_KM / np.sqrt(deg * (deg + 1.0))
    coords = {d: da[d] for d in other if d in da.coords}
    coords.update(degree=deg, wavelength=("degree", wavelength, {"units": "km"}))
    units = da.attrs.get("units")
    return xr.DataArray(
        power,
        dims=(*other, "degree"),
        coords=coords,
        name="power",
        attrs={
            "long_name": "angular power per spherical-harmonic degree",
            "units": f"({units})^2" if units else "",
            "normalisation": "sum over degree = area-weighted global mean of the squared field",
            "grid": grid_note,
        },
    )


def ke_spectrum(
    u: xr.DataArray,
    v: xr.DataArray,
    *,
    lat_dim: str = "lat",
    lon_dim: str = "lon",
    lmax: int | None = None,
) -> xr.DataArray:
    """Kinetic-energy spectrum ``0.5 * (P_l[u] + P_l[v])`` from the scalar spectra of the components.

    ``sum_l E_l`` is the area-mean kinetic energy per unit mass
    ``0.5 * mean(u**2 + v**2)`` (same normalisation as :func:`sh_power_spectrum`).
    This is the component-wise spectrum commonly used for comparing downscaled
    winds with the truth; it is not the vorticity/divergence (Helmholtz) form,
    which distributes the same total differently at the lowest degrees.

    Parameters
    ----------
    u, v : DataArrays ``(..., lat, lon)`` on the same global grid, m s-1.

    Returns
    -------
    DataArray ``(..., degree)`` named ``ke``, units of ``u`` squared.

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> from climviz.data.grid import global_grid
    >>> lat, lon = global_grid(16, 32)
    >>> u = xr.DataArray(np.cos(np.deg2rad(lat))[:, None] * np.ones(32), dims=("lat", "lon"),
    ...                  coords={"lat": lat, "lon": lon})
    >>> e = ke_spectrum(u, 0 * u)
    >>> round(float(e.sum()), 6)  # 0.5 * mean(cos^2 lat) = 1/3
    0.333333
    """
    pu = sh_power_spectrum(u, lat_dim=lat_dim, lon_dim=lon_dim, lmax=lmax)
    pv = sh_power_spectrum(v, lat_dim=lat_dim, lon_dim=lon_dim, lmax=lmax)
    out = 0.5 * (pu + pv)
    return out.rename("ke").assign_attrs(
        pu.attrs,
        long_name="kinetic energy per spherical-harmonic degree",
        normalisation="sum over degree = area-mean 0.5*(u^2+v^2)",
    )


# --------------------------------------------------------------------------- FFT
def _detrend_2d(x: np.ndarray, how: str | None) -> np.ndarray:
    """Remove the mean (``'constant'``) or a least-squares plane (``'linear'``) over the last two axes."""
    if how is None:
        return x
    ny, nx = x.shape[-2:]
    if how == "constant":
        return x - x.mean(axis=(-2, -1), keepdims=True)
    if how != "linear":
        raise ValueError(f"detrend must be None, 'constant' or 'linear', got {how!r}")
    yy, xx = np.meshgrid(np.arange(ny) - (ny - 1) / 2, np.arange(nx) - (nx - 1) / 2, indexing="ij")
    a = np.stack([np.ones(ny * nx), yy.ravel(), xx.ravel()], axis=1)  # [ny*nx, 3]
    flat = x.reshape(-1, ny * nx).T  # [ny*nx, b]
    coef, *_ = np.linalg.lstsq(a, flat, rcond=None)
    return (flat - a @ coef).T.reshape(x.shape)


def _fft_radial_kernel(x: np.ndarray, dy: float, dx: float, detrend: str | None, window: str | None):
    """Radially binned 2-D power. x ``[..., ny, nx]``; returns (k ``[nk]``, power ``[..., nk]``)."""
    ny, nx = x.shape[-2:]
    x = _detrend_2d(np.asarray(x, dtype=float), detrend)
    if window == "hann":
        from scipy.signal.windows import hann

        w = np.outer(hann(ny, sym=False), hann(nx, sym=False)) if ny > 1 else hann(nx, sym=False)[None]
    elif window is None:
        w = np.ones((ny, nx))
    else:
        raise ValueError(f"window must be 'hann' or None, got {window!r}")
    f = np.fft.fft2(x * w, axes=(-2, -1))
    p2 = (f.real**2 + f.imag**2) / (ny * nx) ** 2 / np.mean(w**2)  # sum = mean(x^2) (window-corrected)
    ky = np.fft.fftfreq(ny, d=dy)
    kx = np.fft.fftfreq(nx, d=dx)
    kr = np.hypot(ky[:, None], kx[None, :])
    dk = max(1.0 / (nx * dx), 1.0 / (ny * dy))
    kmax = min(0.5 / dx, 0.5 / dy) if ny > 1 else 0.5 / dx
    nbin = int(np.floor(kmax / dk + 1e-9))
    idx = np.rint(kr / dk).astype(int).ravel()
    keep = (idx >= 1) & (idx <= nbin)
    lead = p2.shape[:-2]
    flat = p2.reshape(-1, ny * nx)[:, keep]
    out = np.zeros((flat.shape[0], nbin))
    for b in range(nbin):
        out[:, b] = flat[:, idx[keep] == b + 1].sum(axis=1)
    return dk * np.arange(1, nbin + 1), out.reshape(*lead, nbin)


def fft_power_spectrum(
    da: xr.DataArray,
    region: Region | str | tuple | None = None,
    *,
    lat_dim: str = "lat",
    lon_dim: str = "lon",
    detrend: str | None = "linear",
    window: str | None = "hann",
) -> xr.DataArray:
    """Radially averaged (isotropic) 2-D FFT power spectrum over a lat/lon box.

    The box (``region``; default the whole array) is treated as a flat
    rectangle with the mean grid spacing ``dy = R dlat`` and
    ``dx = R cos(mean lat) dlon`` (km). Each field is detrended (plane or mean),
    multiplied by a 2-D Hann window, Fourier transformed, and the power
    ``|F|^2 / (N^2 mean(w^2))`` is summed in rings of width
    ``dk = max(1/Lx, 1/Ly)`` around ``k = n dk``, ``n = 1 .. floor(k_Nyq / dk)``
    with ``k_Nyq`` the smaller Nyquist wavenumber (rings beyond it are
    incomplete and dropped, as is the mean). Without window or detrending the
    values sum to the box variance minus the power beyond ``k_Nyq``. Divide by
    ``dk`` (``attrs["dk"]``) for a spectral density.

    Parameters
    ----------
    da : DataArray ``(..., lat, lon)``; no NaN inside the box.
    region : Region, name or box, optional (see :func:`climviz.data.regions.get_region`).
    detrend : ``'linear'`` (plane), ``'constant'`` (mean) or ``None``.
    window : ``'hann'`` or ``None``.

    Returns
    -------
    DataArray ``(..., wavenumber)`` named ``power``; ``wavenumber`` in cycles per km,
    coordinate ``wavelength`` in km.

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> lat = np.arange(-20.0, 20.0, 1.0); lon = np.arange(0.0, 40.0, 1.0)
    >>> f = np.sin(2 * np.pi * 5 * np.arange(40) / 40)[None, :] * np.ones((40, 1))
    >>> p = fft_power_spectrum(xr.DataArray(f, dims=("lat", "lon"), coords={"lat": lat, "lon": lon}))
    >>> int(p.argmax("wavenumber"))  # ring n = 5 (5 cycles across the box)
    4
    """
    if region is not None:
        da = get_region(region).select(da, lat_dim=lat_dim, lon_dim=lon_dim)
    other = [d for d in da.dims if d not in (lat_dim, lon_dim)]
    da = da.transpose(*other, lat_dim, lon_dim)
    if bool(da.isnull().any()):
        raise ValueError("fft_power_spectrum: the box contains NaN (mask land or pick an ocean-only box)")
    lat = np.asarray(da[lat_dim].values, dtype=float)
    lon = np.asarray(da[lon_dim].values, dtype=float)
    if lon.size < 4:
        raise ValueError(f"fft_power_spectrum needs at least 4 longitudes, got {lon.size}")
    dlon = np.mean(np.mod(np.diff(lon), 360.0))
    dlat = np.mean(np.abs(np.diff(lat))) if lat.size > 1 else dlon
    dx = EARTH_RADIUS_KM * np.cos(np.deg2rad(lat.mean())) * np.deg2rad(dlon)
    dy = EARTH_RADIUS_KM * np.deg2rad(dlat)
    k, power = _fft_radial_kernel(da.values, dy, dx, detrend, window)
    coords = {d: da[d] for d in other if d in da.coords}
    coords.update(
        wavenumber=("wavenumber", k, {"units": "km-1", "long_name": "cycles per km"}),
        wavelength=("wavenumber", 1.0 / k, {"units": "km"}),
    )
    units = da.attrs.get("units")
    return xr.DataArray(
        power,
        dims=(*other, "wavenumber"),
        coords=coords,
        name="power",
        attrs={
            "long_name": "radially binned 2-D FFT power",
            "units": f"({units})^2" if units else "",
            "dk": float(k[0]) if k.size else np.nan,
            "dx_km": float(dx),
            "dy_km": float(dy),
            "detrend": str(detrend),
            "window": str(window),
        },
    )


# --------------------------------------------------------------------------- time
def temporal_power_spectrum(
    da: xr.DataArray,
    *,
    dim: str = "time",
    fs: float = 12.0,
    method: str = "welch",
    nperseg: int | None = None,
    detrend: str = "linear",
) -> xr.DataArray:
    """Power spectral density along ``dim`` (SciPy ``welch`` or ``periodogram``).

    Parameters
    ----------
    da : DataArray ``(..., dim, ...)`` regularly sampled, no NaN.
    fs : float
        Samples per year (12 for monthly data); frequencies come out in cycles per year.
    method : ``'welch'`` (Hann segments, 50% overlap) or ``'periodogram'`` (Hann window).
    nperseg : int, optional
        Welch segment length; default ``min(len, 256)``.
    detrend : ``'linear'`` or ``'constant'`` per segment.

    Returns
    -------
    DataArray ``(..., frequency)`` named ``psd`` (units of ``da`` squared per cycle per year),
    coords ``frequency`` (cycles per year) and ``period`` (years; inf at 0).

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> t = np.arange(624)  # 52 years, monthly
    >>> da = xr.DataArray(np.sin(2 * np.pi * t / 48.0), dims="time")
    >>> s = temporal_power_spectrum(da, method="periodogram")
    >>> float(peak_period(s))
    4.0
    """
    from scipy import signal

    if dim not in da.dims:
        raise ValueError(f"dimension {dim!r} not in {da.dims}")
    if bool(da.isnull().any()):
        raise ValueError("temporal_power_spectrum: series contains NaN")
    n = da.sizes[dim]
    if method == "welch":
        seg = min(n, 256) if nperseg is None else int(min(nperseg, n))

        def kern(x):
            return signal.welch(x, fs=fs, nperseg=seg, detrend=detrend, axis=-1)[1]

        freq = signal.welch(np.zeros(n), fs=fs, nperseg=seg, detrend=detrend)[0]
    elif method == "periodogram":

        def kern(x):
            return signal.periodogram(x, fs=fs, window="hann", detrend=detrend, axis=-1)[1]

        freq = signal.periodogram(np.zeros(n), fs=fs, window="hann", detrend=detrend)[0]
    else:
        raise ValueError(f"method must be 'welch' or 'periodogram', got {method!r}")
    return apply_spectrum(
        kern, da, dim, freq, long_name=f"power spectral density ({method})", fs=fs, method=method
    )


def apply_spectrum(
    kern, da: xr.DataArray, dim: str, freq: np.ndarray, *, long_name: str, **attrs
) -> xr.DataArray:
    """``kern(x [..., n]) -> [..., freq.size]`` over ``dim`` of ``da``, as a ``psd`` DataArray
    ``(..., frequency)`` with coords ``frequency`` (cycles per year) and ``period`` (years)."""
    out = xr.apply_ufunc(
        kern,
        da,
        input_core_dims=[[dim]],
        output_core_dims=[["frequency"]],
        dask="parallelized",
        output_dtypes=[float],
        dask_gufunc_kwargs={"output_sizes": {"frequency": freq.size}},
    )
    with np.errstate(divide="ignore"):
        period = 1.0 / freq
    units = da.attrs.get("units")
    return (
        out.assign_coords(
            frequency=("frequency", freq, {"units": "year-1", "long_name": "cycles per year"}),
            period=("frequency", period, {"units": "year"}),
        )
        .rename("psd")
        .assign_attrs(long_name=long_name, units=f"({units})^2 year" if units else "year", **attrs)
    )


def peak_period(
    spectrum: xr.DataArray,
    band: tuple[float, float] = (2.0, 7.0),
    *,
    freq_dim: str = "frequency",
) -> xr.DataArray:
    """Period (years) of the largest spectral value with period inside ``band``.

    Parameters
    ----------
    spectrum : output of :func:`temporal_power_spectrum` ``(..., frequency)``
        with a ``period`` coordinate.
    band : (shortest, longest) period in years, inclusive.

    Returns
    -------
    DataArray ``(...)`` named ``peak_period`` in years.

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> f = np.array([0.1, 0.25, 0.5]); s = xr.DataArray([9.0, 2.0, 1.0], dims="frequency",
    ...     coords={"frequency": f, "period": ("frequency", 1 / f)})
    >>> float(peak_period(s)), float(peak_period(s, band=(1, 20)))
    (4.0, 10.0)
    """
    lo, hi = sorted(band)
    period = spectrum["period"]
    inside = (period >= lo) & (period <= hi)
    if not bool(inside.any()):
        raise ValueError(f"no frequency of the spectrum has a period in {band} years")
    sub = spectrum.isel({freq_dim: np.flatnonzero(inside.values)})
    i = sub.fillna(-np.inf).argmax(freq_dim)
    out = sub["period"].isel({freq_dim: i}).drop_vars([freq_dim, "period"], errors="ignore")
    return out.rename("peak_period").assign_attrs(units="year")
