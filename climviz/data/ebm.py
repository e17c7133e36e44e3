"""Forced response of the synthetic ensemble: forcing histories, two-box model, patterns.

The forced part of every member of the synthetic ensemble is the response of a
two-box energy balance model (Held et al. 2010; Geoffroy et al. 2013a,b) to
historical CO2 and volcanic forcing, spread over the globe by fixed patterns:

- CO2: a smooth fit ``C(t) = c_inf + A exp((t - 1850) / tau)`` to the Law Dome /
  Mauna Loa record (285 ppm in 1850, ~317 ppm in 1960, ~379 ppm in 2005),
  forcing ``F = 5.35 ln(C / C_1850)`` W m-2 (Myhre et al. 1998), zero in 1850 so
  the model starts in equilibrium.
- Volcanoes: each eruption of :data:`climviz.data.forcing.ERUPTIONS` gives a
  stratospheric AOD pulse ``peak_aod * g(t - t_eruption)`` with the gamma
  shape ``g(s) = (s / s_p)**k exp(k (1 - s / s_p))`` (peak 1 at ``s_p`` = 9
  months, ``k`` = 4), forcing ``-25 W m-2`` per unit AOD (Hansen et al. 2005).
  Shape and peak AODs are fitted so that the annual-mean forcing matches the
  RCMIP effective radiative forcing (Nicholls et al. 2020) of the eruption
  year and the year after for Agung (-0.88 / -0.78 W m-2), El Chichon
  (-0.32 / -0.84) and Pinatubo (-0.58 / -1.85) to about 0.15 W m-2: like the
  real forcing it peaks in the year after the eruption (see
  :data:`climviz.data.forcing.RCMIP_VOLCANIC_ERF`).
- Two-box model (Geoffroy et al. 2013b, Eq. 1, with deep-ocean efficacy)::

      C  dT/dt  = F - lambda T - eps gamma (T - T0)
      C0 dT0/dt = gamma (T - T0)

  with ``C`` ~ 8 W yr m-2 K-1 (mixed layer), ``C0`` ~ 100 (deep ocean),
  ``lambda`` ~ 1.2 W m-2 K-1 (feedback), ``gamma`` ~ 0.7 W m-2 K-1 (exchange),
  ``eps`` the efficacy of deep-ocean heat uptake. Integrated with explicit
  sub-steps (stable: the fast time scale is ~4 yr, a sub-step is days).
- Patterns (area-weighted global mean exactly 1, so the global mean of the
  field is the box-model temperature): CO2 warming amplified towards the
  Arctic (~2x the global mean north of 70N; Holland & Bitz 2003) and over land
  (land/ocean warming ratio ~1.5; Sutton et al. 2007); volcanic cooling larger
  over land and in the northern hemisphere (Robock 2000).

References
----------
Geoffroy, O. et al. (2013a, b), J. Climate 26, 1841-1857 and 1859-1876.
Hansen, J. et al. (2005), Efficacy of climate forcings, JGR 110, D18104.
Held, I. M. et al. (2010), Probing the fast and slow components of global
warming by returning abruptly to preindustrial forcing, J. Climate 23, 2418.
Holland, M. M. & Bitz, C. M. (2003), Polar amplification of climate change in
coupled models, Clim. Dyn. 21, 221-232.
Myhre, G. et al. (1998), New estimates of radiative forcing due to well mixed
greenhouse gases, GRL 25, 2715-2718.
Robock, A. (2000), Volcanic eruptions and climate, Rev. Geophys. 38, 191-219.
Sato, M. et al. (1993), Stratospheric aerosol optical depths, 1850-1990, JGR 98.
Sutton, R. T. et al. (2007), Land/sea warming ratio in response to climate
change, GRL 34, L02701.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from climviz.data.forcing import ERUPTIONS, Eruption

ORIGIN_YEAR = 1850  # first month of every simulation (January 1850)
LAST_YEAR = 2005  # last year of the historical forcing


@dataclass(frozen=True)
class EBMParams:
    """Parameters of the forcing histories and the two-box model (units in comments)."""

    heat_capacity: float = 7.3  # C, mixed layer + atmosphere, W yr m-2 K-1 (CMIP5 mean, Geoffroy 2013b)
    deep_heat_capacity: float = 70.0  # C0, deep ocean, W yr m-2 K-1 (CMIP5 range ~50-170)
    feedback: float = 0.95  # lambda, W m-2 K-1 (ECS = 5.35 ln2 / lambda = 3.9 K; CMIP5 2.1-4.7 K)
    exchange: float = 0.5  # gamma, W m-2 K-1 (CMIP5 range ~0.5-1.0)
    efficacy: float = 1.0  # eps, deep-ocean heat-uptake efficacy (1 = Held 2010)
    co2_coeff: float = 5.35  # W m-2 per ln(C/C_ref) (Myhre et al. 1998)
    co2_inf: float = 282.14  # ppm, asymptote of the exponential CO2 fit
    co2_amp: float = 2.86  # ppm, amplitude of the fit at 1850
    co2_tau: float = 44.0  # years, e-folding time of the fit
    aod_forcing: float = -25.0  # W m-2 per unit AOD (Hansen et al. 2005)
    aod_peak_months: float = 9.0  # months from the eruption to the AOD peak (fit to RCMIP ERF)
    aod_shape: float = 4.0  # k, gamma-shape exponent of an AOD pulse (fit to RCMIP ERF)
    substeps: int = 4  # explicit sub-steps per month

    def to_dict(self) -> dict:
        return asdict(self)


def month_years(n0: int, n1: int) -> np.ndarray:
    """Mid-month times in fractional years for months ``n0 .. n1-1`` since January 1850, shape ``[n1-n0]``."""
    return ORIGIN_YEAR + (np.arange(n0, n1, dtype=float) + 0.5) / 12.0


def co2_concentration(years: np.ndarray, params: EBMParams = EBMParams()) -> np.ndarray:
    """CO2 concentration in ppm at fractional ``years`` (smooth exponential fit, see module docstring)."""
    years = np.asarray(years, dtype=float)
    return params.co2_inf + params.co2_amp * np.exp((years - ORIGIN_YEAR) / params.co2_tau)


def co2_forcing(years: np.ndarray, params: EBMParams = EBMParams()) -> np.ndarray:
    """CO2 radiative forcing in W m-2 relative to 1850, ``5.35 ln(C / C_1850)``."""
    ref = co2_concentration(np.array(ORIGIN_YEAR), params)
    return params.co2_coeff * np.log(co2_concentration(years, params) / ref)


def aod_pulse(months_since: np.ndarray, params: EBMParams = EBMParams()) -> np.ndarray:
    """Shape of one eruption's AOD, peak 1, zero before the eruption; ``months_since`` in months.

    ``g(s) = (s / s_p)**k exp(k (1 - s / s_p))`` for ``s > 0``: a gamma-shaped
    pulse with its maximum 1 at ``s_p = params.aod_peak_months``.
    """
    s = np.maximum(np.asarray(months_since, dtype=float), 0.0)
    x = s / params.aod_peak_months
    k = params.aod_shape
    return x**k * np.exp(k * (1.0 - x))


def volcanic_aod(
    years: np.ndarray, params: EBMParams = EBMParams(), eruptions: tuple[Eruption, ...] = ERUPTIONS
) -> np.ndarray:
    """Global-mean stratospheric AOD at fractional ``years``: the sum of one pulse per eruption."""
    years = np.asarray(years, dtype=float)
    aod = np.zeros_like(years)
    for e in eruptions:
        t_e = e.year + (e.month - 1) / 12.0  # start of the eruption month
        aod += e.peak_aod * aod_pulse((years - t_e) * 12.0, params)
    return aod


def two_box(forcing: np.ndarray, params: EBMParams = EBMParams()) -> tuple[np.ndarray, np.ndarray]:
    """Integrate the two-box model from equilibrium under monthly ``forcing`` (W m-2), shape ``[n]``.

    The forcing is held constant within a month; the model takes
    ``params.substeps`` explicit Euler steps per month, and the monthly mean is
    the trapezoidal mean of the piecewise-linear path. Returns the monthly-mean
    mixed-layer (surface) and deep-ocean temperature anomalies in K, each ``[n]``.
    """
    c, c0 = params.heat_capacity, params.deep_heat_capacity
    lam, gam, eps = params.feedback, params.exchange, params.efficacy
    m = int(params.substeps)
    dt = 1.0 / 12.0 / m
    t = t0 = 0.0
    out_t = np.empty(len(forcing))
    out_t0 = np.empty(len(forcing))
    for i, f in enumerate(np.asarray(forcing, dtype=float).tolist()):
        acc = acc0 = 0.0
        for _ in range(m):  # explicit Euler; trapezoidal monthly mean of the sub-step path
            flux = gam * (t - t0)
            t_new, t0_new = t + dt * (f - lam * t - eps * flux) / c, t0 + dt * flux / c0
            acc += 0.5 * (t + t_new)
            acc0 += 0.5 * (t0 + t0_new)
            t, t0 = t_new, t0_new
        out_t[i], out_t0[i] = acc / m, acc0 / m
    return out_t, out_t0


def forcing_history(n_months: int, params: EBMParams = EBMParams()) -> dict[str, np.ndarray]:
    """Monthly forcing from January 1850 for ``n_months`` months: ``co2`` (ppm), ``aod``,
    ``forcing_co2`` and ``forcing_volcanic`` (W m-2), each shape ``[n_months]``."""
    years = month_years(0, n_months)
    aod = volcanic_aod(years, params)
    return {
        "co2": co2_concentration(years, params),
        "aod": aod,
        "forcing_co2": co2_forcing(years, params),
        "forcing_volcanic": params.aod_forcing * aod,
    }


def global_response(n_months: int, params: EBMParams = EBMParams()) -> dict[str, np.ndarray]:
    """Forcing and global-mean response from January 1850, each shape ``[n_months]``.

    Keys: those of :func:`forcing_history` plus ``tas_co2`` and ``tas_volcanic``
    (surface response to each forcing alone; the model is linear so they add),
    ``tas`` (their sum) and ``deep_ocean`` (deep-box anomaly), all in K relative to 1850.
    """
    out = forcing_history(n_months, params)
    t_co2, d_co2 = two_box(out["forcing_co2"], params)
    t_vol, d_vol = two_box(out["forcing_volcanic"], params)
    out.update(tas_co2=t_co2, tas_volcanic=t_vol, tas=t_co2 + t_vol, deep_ocean=d_co2 + d_vol)
    return out


def _unit_global_mean(raw: np.ndarray, lat: np.ndarray) -> np.ndarray:
    w = np.cos(np.deg2rad(lat))[:, None] * np.ones_like(raw)
    return raw / ((raw * w).sum() / w.sum())


def warming_pattern(lat: np.ndarray, lon: np.ndarray, land: np.ndarray) -> np.ndarray:
    """Local CO2 warming per K of global-mean warming, shape ``[nlat, nlon]``, area mean 1.

    ``(1 + 0.5 land) * (1 + a sin(lat)^4)`` with ``a = 1.6`` north and ``0.6``
    south (Arctic amplification stronger than Antarctic), normalised with
    cos(latitude) weights. ``land`` is the land fraction ``[nlat, nlon]``.
    """
    s = np.sin(np.deg2rad(np.asarray(lat, dtype=float)))[:, None]
    polar = np.where(s > 0, 1.6, 0.6) * s**4
    raw = (1.0 + 0.5 * land) * (1.0 + polar) * np.ones((1, len(lon)))
    return _unit_global_mean(raw, lat)


def volcanic_pattern(lat: np.ndarray, lon: np.ndarray, land: np.ndarray) -> np.ndarray:
    """Local volcanic cooling per K of global-mean cooling, shape ``[nlat, nlon]``, area mean 1.

    ``(1 + 0.8 land) * (1 + 0.25 sin(lat) + 0.3 sin(lat)^2)``: stronger over
    land and in the northern hemisphere.
    """
    s = np.sin(np.deg2rad(np.asarray(lat, dtype=float)))[:, None]
    raw = (1.0 + 0.8 * land) * (1.0 + 0.25 * s + 0.3 * s**2) * np.ones((1, len(lon)))
    return _unit_global_mean(raw, lat)
