"""Time-behaviour diagnostics on analytic cases: AR(1) processes (ACF a^k, spectrum known in
closed form), sinusoids (spectral peak at their period, variance A^2/2 in their band)."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import signal

from climviz.diagnostics.enso import nino34_anomalies
from climviz.diagnostics.spectra import peak_period, temporal_power_spectrum
from climviz.diagnostics.timeseries import autocorrelation, band_variance, multitaper_spectrum

FS = 12.0


def ar1(a, n, members, seed):
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(members, n + 500))
    x = signal.lfilter([1.0], [1.0, -a], e, axis=-1)[:, 500:]  # spin-up dropped: stationary
    return xr.DataArray(x, dims=("member", "time"))


def test_acf_of_ar1_is_a_to_the_k():
    a = 0.9
    x = ar1(a, 1872, 20, seed=0)
    acf = autocorrelation(x, 36).mean("member")
    assert acf["lag"].values.tolist() == list(range(37)) and float(acf[0]) == 1.0
    # sampling sd of r_k for one 156-year member is <= 0.07 here; 20 members: ~0.016
    np.testing.assert_allclose(acf.values, a ** np.arange(37), atol=0.05)
    assert np.abs(acf.values - 0.8 ** np.arange(37)).max() > 0.2  # a wrong a would be seen


def test_acf_against_numpy_correlate():
    x = np.random.default_rng(1).normal(size=100)
    xc = x - x.mean()
    ref = np.correlate(xc, xc, mode="full")[99 : 99 + 11] / (xc @ xc)
    np.testing.assert_allclose(autocorrelation(xr.DataArray(x, dims="time"), 10).values, ref, rtol=1e-10)


def test_multitaper_of_ar1_matches_its_analytic_spectrum():
    a, n = 0.7, 1872
    x = ar1(a, n, 40, seed=2)
    psd = multitaper_spectrum(x).mean("member")
    f = psd["frequency"].values
    theory = 2.0 / FS / np.abs(1 - a * np.exp(-2j * np.pi * f / FS)) ** 2  # one-sided, unit innovations
    inner = (f > 0.2) & (f < 5.8)  # away from 0 and Nyquist
    # 40 members x 7 tapers: ~280 degrees of freedom per frequency, ~8% sd, smoothed over 2W
    ratio = psd.values[inner] / theory[inner]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.03)
    assert np.abs(ratio - 1).max() < 0.35


def test_sinusoid_peaks_at_its_period_and_holds_its_variance_in_its_band():
    t = np.arange(672)  # 56 years
    psd = multitaper_spectrum(xr.DataArray(np.sin(2 * np.pi * t / 42.0), dims="time"))
    assert float(peak_period(psd)) == pytest.approx(3.5, abs=1e-9)  # on the full-record grid
    amp = 1.3
    bands = band_variance(
        multitaper_spectrum(xr.DataArray(amp * np.sin(2 * np.pi * t / 33.0 + 0.4), dims="time"))
    )
    assert bands["band"].values.tolist() == ["0.5-1 yr", "1-2 yr", "2-4 yr", "4-8 yr"]
    assert float(bands.sel(band="2-4 yr")) == pytest.approx(amp**2 / 2, rel=0.01)  # 2.75 years
    assert float(bands.drop_sel(band="2-4 yr").sum()) < 0.01 * amp**2 / 2  # DPSS leakage


def test_full_record_spectrum_separates_periods_that_welch_256_blurs():
    """3.5- and 4.2-year cycles in 156 years: two peaks with a deep dip between them over the whole
    record; Welch with 256-month segments shows one hump (no dip)."""
    t = np.arange(1872)
    x = xr.DataArray(np.sin(2 * np.pi * t / 42.0) + np.sin(2 * np.pi * t / 50.4 + 1.0), dims="time")
    f1, f2 = 12 / 42.0, 12 / 50.4

    def dip(psd):
        def at(f):
            return np.interp(f, psd["frequency"].values, psd.values)

        return at((f1 + f2) / 2) / min(at(f1), at(f2))

    assert dip(multitaper_spectrum(x)) < 0.05
    assert dip(temporal_power_spectrum(x, nperseg=256)) > 0.5


def test_band_variances_sum_to_the_total_variance():
    x = ar1(0.85, 1872, 1, seed=3).isel(member=0)
    psd = multitaper_spectrum(x)
    tiles = band_variance(psd, [(0.0, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, np.inf)])
    df = float(psd["frequency"][1])
    assert float(tiles.sum()) == pytest.approx(float(psd.sum()) * df, rel=1e-12)
    assert float(tiles.sum()) == pytest.approx(float(x.var()), rel=0.05)  # tapers weight time unevenly


def test_nino34_anomalies_remove_each_members_climatology_and_trend():
    t = pd.date_range("1950-01-01", periods=240, freq="MS") + pd.Timedelta(days=14)
    signal_ = np.sin(2 * np.pi * np.arange(240) / 41.0)
    lat, lon = np.array([-3.0, 0.0, 3.0, 20.0]), np.array([150.0, 200.0, 220.0, 300.0])
    members = []
    for m, (slope, clim_amp) in enumerate(((0.002, 1.0), (0.01, 3.0))):
        box = slope * np.arange(240) + clim_amp * np.cos(2 * np.pi * np.arange(240) / 12) + signal_ * (m + 1)
        field = np.zeros((240, 4, 4)) + 280.0
        field[:, :3, 1:3] += box[:, None, None]  # inside Nino3.4 only
        field[:, 3, :] += 50 * np.arange(240)[:, None]  # a huge trend outside the box is ignored
        members.append(field)
    da = xr.DataArray(
        np.stack(members),
        dims=("member", "time", "lat", "lon"),
        coords={"time": t, "lat": lat, "lon": lon},
        attrs={"units": "K"},
    )
    anom = nino34_anomalies(da)
    assert anom.dims == ("member", "time") and anom.attrs["units"] == "K"
    months = t.month.values
    for m in range(2):
        a = anom.isel(member=m).values
        # least squares: the residual is orthogonal to every calendar month and to the trend ...
        assert max(abs(a[months == k].sum()) for k in range(1, 13)) < 1e-9
        assert abs(np.polyfit(np.arange(240), a, 1)[0]) < 1e-12
        # ... and what is left is the member's own signal (less its small projection on that basis)
        assert np.corrcoef(a, signal_)[0, 1] > 0.98 and np.std(a) == pytest.approx(
            (m + 1) * np.std(signal_), rel=0.05
        )
    # clim + trend alone leave nothing
    flat = nino34_anomalies(
        xr.DataArray(
            0.01 * np.arange(240) + np.cos(2 * np.pi * np.arange(240) / 12), dims="time", coords={"time": t}
        )
    )
    assert float(np.abs(flat).max()) < 1e-10
    # an index passes through unchanged in shape (observed series)
    idx = xr.DataArray(signal_ + 0.003 * np.arange(240), dims="time", coords={"time": t})
    np.testing.assert_allclose(
        nino34_anomalies(idx).values, nino34_anomalies(idx.expand_dims(member=1))[0].values
    )
