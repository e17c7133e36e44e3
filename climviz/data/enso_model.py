"""ENSO of the synthetic ensemble: a stochastic recharge oscillator and its SST patterns.

The index is the linear recharge oscillator of Jin (1997) in the form fitted to
observations by Burgers et al. (2005) and used by Levine & Jin (2010) and
Stein et al. (2014), with the east-Pacific SST anomaly ``T`` (K) and the
equatorial thermocline depth anomaly ``h`` (scaled to K)::

    dT/dt = R(t) T + F1 h + sigma_T max(1 + B T, 0) xi_T(t)
    dh/dt = -eps h - F2 T + sigma_h xi_h(t)
    R(t)  = R0 + Ra cos(2 pi (t - t_R))

time ``t`` in years, ``xi`` white noise. The seasonal growth rate ``R(t)``
(largest in boreal late summer, most negative in late winter/spring) locks the
peaks of events to boreal winter (Nov-Jan) and makes the spring
predictability barrier (Stein et al. 2014). With the annual-mean ``R0`` the
linear system's eigenvalues are ``(R0 - eps)/2 ± i omega`` with
``omega**2 = F1 F2 - ((R0 + eps)/2)**2``; the defaults give a period of 4.6
years and a damping time of 1.4 years, so the oscillation is irregular and the
spectrum of ``T`` peaks broadly at 3-6 years. The state-dependent noise
``max(1 + B T, 0)`` (multiplicative noise, Levine & Jin 2010; westerly wind
bursts are more frequent when the east Pacific is warm) makes El Nino stronger
than La Nina: positive skewness of ``T``. Integrated with Euler-Maruyama
sub-steps (Ito); the output is monthly means.

The defaults were chosen so that the Nino3.4 index of the synthetic ensemble
matches the observed one shipped in :mod:`climviz.data.observed` (NOAA,
1871-2022; monthly climatology and linear trend removed) in standard
deviation (~0.87 K), skewness (~+0.4), lag-1 autocorrelation (~0.94), the
depth and lag of the most negative autocorrelation (~-0.22 near 23 months) and
a broad spectral peak near 4-6 years; ``tests/data/test_observed_match.py``
checks this within stated tolerances.

The index is spread over the globe by fixed patterns (per K of the Nino3.4
index): an equatorial east-Pacific tongue over ocean only (Gaussian in
latitude with a half-width of ~10 deg, 170E-80W, peak near 125W), normalised so
that its Nino3.4 area mean is exactly 1 on any grid; a broad tropical warming
and western-Pacific "horseshoe" cooling; warming of the tropical Indian and
Atlantic oceans lagging the index by 4 months (Klein et al. 1999); PNA-like
lobes over the North Pacific (cold), Alaska/western Canada (warm) and the
south-eastern US (cold), strongest in boreal winter (Horel & Wallace 1981);
warm Australia and Amazonia; a PSA lobe off West Antarctica. The broad tropical
amplitude is solved so that the global-mean imprint is 0.1 K per K of Nino3.4
(Trenberth et al. 2002).

References
----------
Burgers, G., Jin, F.-F. & van Oldenborgh, G. J. (2005), The simplest ENSO
recharge oscillator, GRL 32, L13706.
Horel, J. D. & Wallace, J. M. (1981), Planetary-scale atmospheric phenomena
associated with the Southern Oscillation, Mon. Wea. Rev. 109, 813-829.
Jin, F.-F. (1997), An equatorial ocean recharge paradigm for ENSO, J. Atmos. Sci. 54.
Klein, S. A., Soden, B. J. & Lau, N.-C. (1999), Remote sea surface temperature
variations during ENSO: evidence for a tropical atmospheric bridge, J. Climate 12.
Levine, A. F. Z. & Jin, F.-F. (2010), Noise-induced instability in the ENSO
recharge oscillator, J. Atmos. Sci. 67, 529-542.
Stein, K., Timmermann, A., Schneider, N., Jin, F.-F. & Stuecker, M. F. (2014),
ENSO seasonal synchronization theory, J. Climate 27, 5285-5310.
Trenberth, K. E. et al. (2002), Evolution of El Nino-Southern Oscillation and
global atmospheric surface temperatures, JGR 107, 4065.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from climviz.data.regions import get_region

IMPRINT_GLOBAL_MEAN = 0.1  # K of global mean per K of Nino3.4 (Trenberth et al. 2002)
REMOTE_LAG_MONTHS = 4  # Indian/Atlantic warming lags the index (Klein et al. 1999)


@dataclass(frozen=True)
class RechargeOscillatorParams:
    """Parameters of the recharge oscillator, rates per year (units in comments)."""

    growth: float = -0.2  # R0, annual-mean growth rate of T, 1/yr
    growth_seasonal: float = 1.5  # Ra, amplitude of the seasonal growth rate, 1/yr
    growth_peak: float = 0.7  # t_R, time of year of largest growth (0.7 = mid-September)
    damping_h: float = 1.2  # eps, damping of h, 1/yr
    coupling_th: float = 1.45  # F1, thermocline feedback on T, 1/yr
    coupling_ht: float = 1.45  # F2, recharge/discharge of h by T, 1/yr
    noise_t: float = 1.0  # sigma_T, K / sqrt(yr)
    noise_h: float = 0.3  # sigma_h, K / sqrt(yr)
    noise_state: float = 0.15  # B, state dependence of the T noise, 1/K (Levine & Jin 2010)
    substeps: int = 8  # Euler-Maruyama steps per month
    spinup_years: int = 30  # discarded before January 1850

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def period_years(self) -> float:
        """Period of the free linear oscillation with ``R = R0``, years."""
        om2 = self.coupling_th * self.coupling_ht - ((self.growth + self.damping_h) / 2) ** 2
        return float(2 * np.pi / np.sqrt(om2))


def recharge_oscillator(
    n_months: int, rng: np.random.Generator, params: RechargeOscillatorParams = RechargeOscillatorParams()
) -> tuple[np.ndarray, np.ndarray]:
    """Monthly means of ``T`` and ``h`` from January 1850 for ``n_months`` months.

    The model is spun up for ``params.spinup_years`` from rest, then integrated
    with ``params.substeps`` Euler-Maruyama steps a month. Random numbers are
    drawn month by month from ``rng`` in time order, so the first ``n`` months
    are the same whatever ``n_months`` is.

    Returns
    -------
    T, h : np.ndarray, float64, each shape ``[n_months]`` (K).
    """
    p = params
    m = int(p.substeps)
    n_spin = 12 * int(p.spinup_years)
    total = n_spin + int(n_months)
    dt = 1.0 / 12.0 / m
    sq = np.sqrt(dt)
    xi = rng.standard_normal((total, m, 2))
    kick_t = (p.noise_t * sq * xi[..., 0]).tolist()
    b = float(p.noise_state)
    kick_h = (p.noise_h * sq * xi[..., 1]).tolist()
    # growth rate at each sub-step (time of year only), same for every year
    frac = (np.arange(12 * m) + 0.5) * dt
    r_year = (
        (p.growth + p.growth_seasonal * np.cos(2 * np.pi * (frac - p.growth_peak))).reshape(12, m).tolist()
    )
    f1, f2, eps = p.coupling_th, p.coupling_ht, p.damping_h
    t = h = 0.0
    out_t = np.empty(total)
    out_h = np.empty(total)
    for i in range(total):
        rs, kt, kh = r_year[i % 12], kick_t[i], kick_h[i]
        acc_t = acc_h = 0.0
        for j in range(m):  # Euler-Maruyama; trapezoidal monthly mean
            amp = 1.0 + b * t if b * t > -1.0 else 0.0  # max(1 + B T, 0)
            t_new, h_new = t + dt * (rs[j] * t + f1 * h) + amp * kt[j], h - dt * (eps * h + f2 * t) + kh[j]
            acc_t += 0.5 * (t + t_new)
            acc_h += 0.5 * (h + h_new)
            t, h = t_new, h_new
        out_t[i], out_h[i] = acc_t / m, acc_h / m
    return out_t[n_spin:], out_h[n_spin:]


def _gauss(
    lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float, slat: float, slon: float
) -> np.ndarray:
    """Gaussian blob ``[nlat, nlon]`` centred at (lat0, lon0) deg with e-folding widths; periodic in lon."""
    dlon = (lon[None, :] - lon0 + 180.0) % 360.0 - 180.0
    return np.exp(-(((lat[:, None] - lat0) / slat) ** 2) - (dlon / slon) ** 2)


def winter_weight(month_index: np.ndarray) -> np.ndarray:
    """Seasonal weight of the PNA lobes, 1 in mid-January, 0.25 in mid-July; ``month_index`` 0-11."""
    tau = np.asarray(month_index) + 0.5
    return 0.25 + 0.75 * 0.5 * (1.0 + np.cos(2 * np.pi * (tau - 0.5) / 12.0))


def enso_patterns(lat: np.ndarray, lon: np.ndarray, land: np.ndarray) -> dict[str, np.ndarray]:
    """Spatial patterns of the ENSO imprint, K per K of Nino3.4, each ``[nlat, nlon]`` float64.

    Keys: ``"direct"`` (in phase with the index: Pacific tongue, broad tropics,
    horseshoe, Australia, Amazonia, PSA), ``"lagged"`` (Indian and Atlantic
    oceans, lag :data:`REMOTE_LAG_MONTHS`), ``"winter"`` (PNA lobes, multiplied
    by :func:`winter_weight`). The ``"direct"`` pattern has Nino3.4 area mean 1
    (cos-latitude weights) and the three together a global mean of
    :data:`IMPRINT_GLOBAL_MEAN` (with the winter pattern at its annual-mean weight).
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float) % 360.0
    ocean = 1.0 - np.asarray(land, dtype=float)
    # Pacific tongue: half-width 10 deg in latitude; 170E-80W with the peak near 125W
    x = np.clip((lon - 170.0) / 110.0, 0.0, 1.0) ** 1.3
    pacific = np.exp(-np.log(2) * (lat[:, None] / 10.0) ** 2) * np.sin(np.pi * x)[None, :] ** 2 * ocean
    broad = np.exp(-((lat[:, None] / 20.0) ** 2)) * np.ones_like(pacific)
    other = (
        -0.3 * (_gauss(lat, lon, 20, 165, 8, 25) + _gauss(lat, lon, -20, 165, 8, 25)) * ocean  # horseshoe
        + 0.3 * _gauss(lat, lon, -25, 135, 10, 15) * land  # Australia
        + 0.4 * _gauss(lat, lon, -5, 298, 10, 15) * land  # Amazonia
        + 0.5 * _gauss(lat, lon, -62, 250, 8, 25)  # PSA lobe, Amundsen-Bellingshausen
    )
    lagged = (0.3 * _gauss(lat, lon, 0, 75, 15, 30) + 0.25 * _gauss(lat, lon, 5, 330, 12, 30)) * ocean
    winter = (
        -0.8 * _gauss(lat, lon, 40, 185, 10, 25)  # North Pacific
        + 1.2 * _gauss(lat, lon, 60, 235, 10, 25)  # Alaska / western Canada
        - 0.6 * _gauss(lat, lon, 32, 275, 8, 15)  # south-eastern US
    )
    # solve a (Pacific scale) and b (broad amplitude): Nino3.4 mean of "direct" = 1,
    # global mean of the whole imprint = IMPRINT_GLOBAL_MEAN
    w = np.cos(np.deg2rad(lat))[:, None] * np.ones((1, len(lon)))
    box = get_region("nino34").mask(lat, lon) * w
    if box.sum() == 0:  # grid too coarse to have a point inside 5S-5N: use the rows nearest the equator
        near = np.abs(lat) <= np.abs(lat).min() + 1e-9
        box = (near[:, None] & get_region("-90,90,190,240").mask(lat, lon)) * w

    def nino(f):
        return float((f * box).sum() / box.sum())

    def gmean(f):
        return float((f * w).sum() / w.sum())

    season_mean = float(winter_weight(np.arange(12)).mean())
    rest_g = gmean(other) + gmean(lagged) + season_mean * gmean(winter)
    mat = np.array([[nino(pacific), nino(broad)], [gmean(pacific), gmean(broad)]])
    a, b = np.linalg.solve(mat, [1.0 - nino(other), IMPRINT_GLOBAL_MEAN - rest_g])
    return {"direct": a * pacific + b * broad + other, "lagged": lagged, "winter": winter}
