"""Time behaviour of an index (e.g. Nino3.4): full-record multitaper spectrum,
variance by period band, autocorrelation function.

Welch's method with 256-month segments cannot tell a 3-year from a 4-year
period, nor see anything longer than ~20 years. :func:`multitaper_spectrum`
uses the whole record with Slepian (DPSS) tapers (Thomson 1982; Percival &
Walden 1993, ch. 7): it smooths over ``+-NW / N`` cycles per sample, +-0.036
cycles per year for 56 years of monthly data at the default ``NW = 2`` (3
tapers), so peaks at 3.5 and 5 years come out apart.
"""

from __future__ import annotations

import functools

import numpy as np
import xarray as xr

from climviz.diagnostics.spectra import apply_spectrum

BANDS = ((0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0))  # ENSO period bands (years)


def _multitaper_kernel(x: np.ndarray, nw: float, k: int, fs: float) -> np.ndarray:
    """One-sided multitaper PSD of ``x [..., N]`` (mean removed), ``[..., N // 2 + 1]``.

    Eigenspectra ``S_k(f) = |sum_t w_k(t) x_t e^{-2 pi i f t}|^2 / fs`` with unit-energy
    DPSS tapers ``w_k``, averaged over ``k`` and doubled except at 0 and Nyquist, so
    ``sum_f S(f) df ~ var(x)`` (``df = fs / N``).
    """
    from scipy.signal.windows import dpss

    n = x.shape[-1]
    tapers = dpss(n, nw, Kmax=k, norm=2)  # [k, N], sum w^2 = 1
    xc = x - x.mean(-1, keepdims=True)
    spec = np.abs(np.fft.rfft(xc[..., None, :] * tapers, axis=-1)) ** 2 / fs
    psd = spec.mean(-2)
    psd[..., 1:] *= 2.0
    if n % 2 == 0:
        psd[..., -1] /= 2.0
    return psd


def multitaper_spectrum(
    da: xr.DataArray,
    *,
    dim: str = "time",
    fs: float = 12.0,
    nw: float = 2.0,
    k: int | None = None,
) -> xr.DataArray:
    """Multitaper power spectral density along ``dim`` over the whole record.

    Parameters
    ----------
    da : DataArray ``(..., dim, ...)`` regularly sampled, no NaN (remove the
        seasonal cycle and trend first: :func:`climviz.diagnostics.enso.nino34_anomalies`).
    fs : samples per year (12 for monthly data); frequencies in cycles per year.
    nw : time-halfbandwidth product; the spectrum is smoothed over ``+-nw fs / N`` cycles per year.
    k : number of tapers (default ``2 nw - 1``).

    Returns
    -------
    DataArray ``(..., frequency)`` named ``psd`` (units of ``da`` squared per cycle per
    year), coords ``frequency`` (cycles per year, ``0 .. fs / 2`` in steps of ``fs / N``)
    and ``period`` (years; inf at 0), like :func:`~climviz.diagnostics.spectra.temporal_power_spectrum`.

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> t = np.arange(672)  # 56 years, monthly
    >>> s = multitaper_spectrum(xr.DataArray(np.sin(2 * np.pi * t / 42.0), dims="time"))
    >>> float(s["period"][s.argmax()])
    3.5
    """
    if dim not in da.dims:
        raise ValueError(f"dimension {dim!r} not in {da.dims}")
    if bool(da.isnull().any()):
        raise ValueError("multitaper_spectrum: series contains NaN")
    n = da.sizes[dim]
    k = int(2 * nw - 1) if k is None else int(k)
    if n < 4 or k < 1:
        raise ValueError(f"multitaper_spectrum needs at least 4 samples and 1 taper (got {n}, {k})")
    freq = np.fft.rfftfreq(n, d=1.0 / fs)
    kern = functools.partial(_multitaper_kernel, nw=float(nw), k=k, fs=float(fs))
    return apply_spectrum(
        kern,
        da.astype(float).assign_attrs(da.attrs),
        dim,
        freq,
        long_name=f"power spectral density (multitaper, NW={nw:g}, {k} tapers, {n} samples)",
        fs=fs,
        method="multitaper",
        nw=nw,
        tapers=k,
    )


def band_variance(
    spectrum: xr.DataArray,
    bands=BANDS,
    *,
    freq_dim: str = "frequency",
) -> xr.DataArray:
    """Variance in period bands: ``sum psd(f) df`` over the frequencies whose period ``p``
    satisfies ``lo <= p < hi`` (years; ``hi = inf`` takes the zero frequency too).

    Bands that tile all periods sum to the total ``sum psd df`` (the series' variance
    for :func:`multitaper_spectrum`, up to the tapers' weighting in time).

    Parameters
    ----------
    spectrum : ``(..., frequency)`` with a ``period`` coordinate and evenly spaced frequencies.
    bands : sequence of ``(lo, hi)`` periods in years.

    Returns
    -------
    DataArray ``(..., band)`` named ``band_variance``, ``band`` labels like ``"2-4 yr"``.

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> f = np.arange(7) / 4.0                       # periods inf, 4, 2, 1.33, 1, 0.8, 0.67 years
    >>> with np.errstate(divide="ignore"):
    ...     s = xr.DataArray(np.ones(7), dims="frequency", coords={"frequency": f, "period": ("frequency", 1 / f)})
    >>> band_variance(s, [(0.5, 1.0), (1.0, 2.0), (2.0, 8.0)]).values.tolist()
    [0.5, 0.5, 0.5]
    """
    freq = np.asarray(spectrum[freq_dim].values, dtype=float)
    df = float(np.median(np.diff(freq)))
    period = np.asarray(spectrum["period"].values, dtype=float)
    parts, labels = [], []
    for lo, hi in bands:
        inside = (period >= lo) & ((period < hi) | (np.isinf(hi) & np.isinf(period)))
        w = xr.DataArray(np.where(inside, df, 0.0), dims=freq_dim)
        parts.append((spectrum.drop_vars([freq_dim, "period"], errors="ignore") * w.values).sum(freq_dim))
        labels.append(f"{lo:g}-{hi:g} yr")
    out = xr.concat(parts, dim="band").assign_coords(band=labels)
    units = spectrum.attrs.get("units", "")
    return out.rename("band_variance").assign_attrs(
        units=units.replace(" year", "") if units else "", long_name="variance in period band"
    )


def autocorrelation(da: xr.DataArray, max_lag: int = 36, *, dim: str = "time") -> xr.DataArray:
    """Autocorrelation function ``r_k = c_k / c_0`` for ``k = 0 .. max_lag`` along ``dim``.

    ``c_k = sum_t (x_t - m)(x_{t+k} - m) / N`` (the standard, positive-definite
    estimator; Box & Jenkins). Average ``c_k`` over members before dividing (or pass
    the member mean of ``autocovariance``) to pool an ensemble.

    Returns
    -------
    DataArray ``(..., lag)`` named ``acf``, ``lag`` in samples (months for monthly data).

    Example
    -------
    >>> import xarray as xr
    >>> autocorrelation(xr.DataArray([1.0, -1.0, 1.0, -1.0], dims="time"), 2).values.tolist()
    [1.0, -0.75, 0.5]
    """
    c = autocovariance(da, max_lag, dim=dim)
    return (c / c.isel(lag=0)).rename("acf").assign_attrs(long_name="autocorrelation")


def autocovariance(da: xr.DataArray, max_lag: int = 36, *, dim: str = "time") -> xr.DataArray:
    """``c_k = sum_t (x_t - m)(x_{t+k} - m) / N`` for ``k = 0 .. max_lag``: ``(..., lag)``.

    Computed with an FFT (zero-padded, no wrap-around).
    """
    n = da.sizes[dim]
    if not 0 <= max_lag < n:
        raise ValueError(f"max_lag must be between 0 and {n - 1}, got {max_lag}")

    def kern(x):
        xc = x - x.mean(-1, keepdims=True)
        f = np.fft.rfft(xc, n=2 * n, axis=-1)
        return np.fft.irfft(np.abs(f) ** 2, n=2 * n, axis=-1)[..., : max_lag + 1] / n

    out = xr.apply_ufunc(
        kern,
        da.astype(float),
        input_core_dims=[[dim]],
        output_core_dims=[["lag"]],
        dask="parallelized",
        output_dtypes=[float],
        dask_gufunc_kwargs={"output_sizes": {"lag": max_lag + 1}},
    )
    return out.assign_coords(lag=np.arange(max_lag + 1)).rename("autocovariance")
