"""The shipped observed references, and the synthetic ensemble checked against them.

The observed files (climviz/data/observed_files) are real data with known
answers; the synthetic ensemble's ENSO, volcanic forcing and warming are
compared with them within the tolerances stated at each assertion. The
statistics are computed here with plain numpy (monthly climatology and linear
trend removed, as everywhere in climviz), independently of climviz.diagnostics.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import scipy.stats

from climviz.data import ebm
from climviz.data import toy_ensemble as te
from climviz.data.forcing import ERUPTIONS_BY_NAME, RCMIP_VOLCANIC_ERF
from climviz.data.grid import global_grid
from climviz.data.observed import hadcrut5_global_annual, nino34_observed
from climviz.data.regions import get_region

GRID = (24, 48)
N_MEMBERS = 8


def anomalies(x: np.ndarray) -> np.ndarray:
    """Whole years of a monthly series, linear trend and monthly climatology removed."""
    x = np.asarray(x, dtype=float)[: len(x) // 12 * 12]
    t = np.arange(x.size)
    x = x - np.polyval(np.polyfit(t, x, 1), t)
    c = x.reshape(-1, 12)
    return (c - c.mean(axis=0)).ravel()


def acf(x: np.ndarray, lags: int = 36) -> np.ndarray:
    x = x - x.mean()
    return np.array([(x[: x.size - k] * x[k:]).mean() for k in range(lags + 1)]) / x.var()


def band_fractions(x: np.ndarray, bands=((1, 2), (2, 4), (4, 8))) -> np.ndarray:
    """Share of the variance at periods in each band (years), from the full-record periodogram."""
    f, p = scipy.signal.periodogram(x, fs=12.0, detrend=False)  # f in cycles per year
    df = f[1] - f[0]
    return np.array([p[(f >= 1 / hi) & (f < 1 / lo)].sum() * df for lo, hi in bands]) / x.var()


@pytest.fixture(scope="module")
def observed() -> np.ndarray:
    da = nino34_observed()
    return anomalies(da.sel(time=slice("1871", "2021")).values)


@pytest.fixture(scope="module")
def synthetic() -> list[np.ndarray]:
    """Nino3.4 area means of members 0..7 of the synthetic ensemble (fields, not the bare index)."""
    lat, lon = global_grid(*GRID)
    w = np.cos(np.deg2rad(lat))[:, None] * np.ones((1, GRID[1]))
    box = get_region("nino34").mask(lat, lon) * w
    return [
        anomalies((te.member_field(k, grid=GRID) * box).sum(axis=(1, 2)) / box.sum())
        for k in range(N_MEMBERS)
    ]


# ---------------------------------------------------------------- the observed files themselves


def test_observed_nino34_known_events():
    da = nino34_observed()
    assert da.attrs["observed"] == "yes" and "public domain" in da.attrs["source"]
    assert (int(da.time.dt.year[0]), int(da.time.dt.year[-1])) == (1871, 2022) and da.size == 1816
    # the great El Ninos peaked at > 2 K in boreal winter 1982/83, 1997/98 and 2015/16
    for winter in ("1982-10/1983-02", "1997-10/1998-02", "2015-10/2016-02"):
        a, b = winter.split("/")
        assert float(da.sel(time=slice(a, b)).max()) > 2.0, winter
    # and La Nina 1988/89 below -1.5 K
    assert float(da.sel(time=slice("1988-09", "1989-02")).min()) < -1.5


def test_hadcrut5_reference_period_and_warming():
    ds = hadcrut5_global_annual()
    assert "Open Government Licence" in ds.attrs["source"]
    assert ds.year.values[0] == 1850 and ds.year.values[-1] == 2022
    # anomalies are relative to 1961-1990: their mean over it is zero (to the rounding of a re-baselined series)
    assert abs(float(ds.anomaly.sel(year=slice(1961, 1990)).mean())) < 0.02
    assert bool((ds.lower <= ds.anomaly).all() and (ds.anomaly <= ds.upper).all())
    # IPCC AR6 WG1 (Table 2.4): 1986-2005 was 0.69 K above 1850-1900 (HadCRUT5-based assessment)
    warming = float(
        ds.anomaly.sel(year=slice(1986, 2005)).mean() - ds.anomaly.sel(year=slice(1850, 1900)).mean()
    )
    assert warming == pytest.approx(0.69, abs=0.05)


# ---------------------------------------------------------------- the synthetic ensemble against them


def test_enso_amplitude_and_asymmetry_match_observed(observed, synthetic):
    sd_obs, sd_syn = observed.std(), np.mean([x.std() for x in synthetic])
    assert sd_syn == pytest.approx(sd_obs, abs=0.1)  # K; observed 0.87
    sk_obs = scipy.stats.skew(observed)
    sk_syn = np.mean([scipy.stats.skew(x) for x in synthetic])
    assert sk_obs > 0.2  # El Nino stronger than La Nina
    # the observed skewness of one 151-year record has a sampling sd of about 0.2
    assert sk_syn == pytest.approx(sk_obs, abs=0.15)


def test_enso_rhythm_matches_observed(observed, synthetic):
    a_obs = acf(observed)
    a_syn = np.mean([acf(x) for x in synthetic], axis=0)
    assert a_syn[1] == pytest.approx(a_obs[1], abs=0.03)  # lag-1, observed 0.94
    # the most negative autocorrelation: depth within 0.08, lag within 4 months (observed -0.22 at 23 months)
    assert a_syn.min() == pytest.approx(a_obs.min(), abs=0.08)
    assert abs(int(a_syn.argmin()) - int(a_obs.argmin())) <= 4
    # the whole ACF to 36 months
    assert np.sqrt(np.mean((a_syn[1:] - a_obs[1:]) ** 2)) < 0.08
    # share of variance by period band (1-2, 2-4, 4-8 yr) within a factor 1.5 of the observed
    ratio = np.mean([band_fractions(x) for x in synthetic], axis=0) / band_fractions(observed)
    assert np.all((ratio > 1 / 1.5) & (ratio < 1.5)), ratio


def test_volcanic_forcing_matches_rcmip_and_peaks_the_year_after():
    forcing = ebm.forcing_history(12 * (2005 - 1850 + 1))["forcing_volcanic"].reshape(-1, 12).mean(axis=1)
    for name, (first, second) in RCMIP_VOLCANIC_ERF.items():
        y = ERUPTIONS_BY_NAME[name].year - 1850
        got = forcing[y : y + 2]
        assert got == pytest.approx([first, second], abs=0.16), name  # W m-2
    # Pinatubo and El Chichon peak in the year after the eruption, as in RCMIP
    for name in ("Pinatubo", "El Chichon"):
        y = ERUPTIONS_BY_NAME[name].year - 1850
        assert forcing[y + 1] < forcing[y]


def test_forced_warming_matches_hadcrut5():
    fr = te.forced_response()
    syn = float(fr.tas.sel(time=slice("1986", "2005")).mean() - fr.tas.sel(time=slice("1850", "1900")).mean())
    ds = hadcrut5_global_annual()
    obs = float(ds.anomaly.sel(year=slice(1986, 2005)).mean() - ds.anomaly.sel(year=slice(1850, 1900)).mean())
    assert syn == pytest.approx(obs, abs=0.1)  # K; observed 0.71, synthetic 0.74
