"""The embedded default data: a synthetic grand ensemble of monthly near-surface temperature.

SYNTHETIC DATA. Nothing here is observed or taken from a climate model; it is
made by a small stochastic model with physically motivated parts, so that
members differ only in internal variability, as in a real initial-condition
ensemble (e.g. the MPI Grand Ensemble, Maher et al. 2019), and held-out members
give a true reference for every statistic.

Each member is ``tas(time, lat, lon)`` in K, the sum of

1. **Climatology** (:func:`climatology`): annual mean from ~300 K in the tropics
   to ~250 K at the poles (colder over Antarctica and over high-latitude land),
   a seasonal cycle whose amplitude grows with latitude and is larger over land
   (continentality; up to ~15-20 K amplitude over Siberia/Antarctica, ~1 K over
   tropical ocean), opposite in phase in the two hemispheres, with the coldest
   month mid-January over land and ~late February over ocean (thermal
   inertia of the mixed layer). Land fraction from
   :func:`climviz.data.landmask.land_fraction` (Natural Earth 110m).
2. **Forced response** (:mod:`climviz.data.ebm`): a two-box energy balance
   model (Held et al. 2010; Geoffroy et al. 2013) driven by CO2
   (``5.35 ln(C/C_1850)``) and volcanic (``-25 W m-2 x AOD``) forcing with the
   real eruption dates; polar-amplified, land-enhanced warming pattern and a
   land/NH-weighted volcanic cooling pattern. Shared exactly by all members.
   About 0.6 K global-mean warming (1986-2005 minus 1850-1879), a Pinatubo dip
   of ~0.3 K (1992 minus 1990).
3. **ENSO** (:mod:`climviz.data.enso_model`): a stochastic recharge oscillator
   (Jin 1997; Burgers et al. 2005) with seasonally modulated growth rate that
   locks events to boreal winter (Stein et al. 2014), period ~3.75 yr,
   projected on an equatorial east-Pacific pattern with teleconnections;
   Nino3.4 standard deviation ~0.85 K; 0.1 K global mean per K of Nino3.4.
4. **Weather/ocean noise**: an isotropic Gaussian random field on the sphere
   with angular power ``C_l ∝ exp(-l(l+1) L^2 / 4)`` (a heat-kernel spectrum, so
   the correlation is ~``exp(-d^2 / L^2)`` with e-folding distance
   ``L = 1500 km``), synthesised with exact associated Legendre functions on the
   Gaussian grid (torch-harmonics) and a real FFT in longitude (so no seam at
   0/360 and no pole artefacts), red in time: two independent AR(1)
   processes in spectral space with monthly lag-1 autocorrelation 0.6
   ("ocean": the mixed layer integrates weather noise with a ~2-month damping
   time, Frankignoul & Hasselmann 1977) and 0.2 ("land": little memory), mixed
   pointwise as ``sqrt(1-f) x_ocean + sqrt(f) x_land`` with land fraction
   ``f``, so the variance is 1 and the lag-1 autocorrelation
   ``0.6 (1-f) + 0.2 f``. The field is scaled by a standard deviation
   that grows with latitude and is larger over land and in winter: ~0.35 K
   over tropical ocean, ~1.2 K over polar ocean, ~0.6 K over tropical land,
   ~2-3 K over high-latitude land in winter.

Members differ only in ENSO and noise. Member ``k`` of seed ``s`` draws from
``np.random.SeedSequence([s, k])`` (spawned into an ENSO and a noise stream);
both are simulated from January 1850 with random numbers drawn month by month,
and only the requested years are transformed to grid space, so member ``k`` is
the same whatever members or sub-period are requested.

:func:`toy_ensemble` returns members in memory; :func:`climviz.data.toy_ensemble_io.write_toy_ensemble`
writes them to NetCDF-4 or Zarr one at a time (``climviz data toy-ensemble``).

References
----------
Burgers, G. et al. (2005), GRL 32, L13706. Frankignoul, C. & Hasselmann, K.
(1977), Stochastic climate models II, Tellus 29, 289-305. Geoffroy, O. et al.
(2013), J. Climate 26, 1841-1876. Held, I. M. et al. (2010), J. Climate 23,
2418-2427. Jin, F.-F. (1997), J. Atmos. Sci. 54, 811-829. Maher, N. et al.
(2019), The Max Planck Institute Grand Ensemble, JAMES 11, 2050-2069. Stein, K.
et al. (2014), J. Climate 27, 5285-5310. See :mod:`climviz.data.ebm` and
:mod:`climviz.data.enso_model` for the rest.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import xarray as xr

from climviz.data import ebm
from climviz.data import enso_model as em
from climviz.data.grid import CALENDAR, DEFAULT_GRID, TIME_UNITS, global_grid

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class NoiseParams:
    """Parameters of the spatially correlated red noise (units in comments)."""

    length_km: float = 1500.0  # e-folding distance of the spatial correlation, km
    lmax: int = 24  # degrees 0..lmax-1 (capped by the grid); misses ~3e-4 of the variance
    lag1_ocean: float = 0.6  # monthly lag-1 autocorrelation over ocean
    lag1_land: float = 0.2  # monthly lag-1 autocorrelation over land
    sd_ocean: float = 0.35  # K, over tropical ocean
    sd_ocean_polar: float = 0.9  # K, added x sin(lat)^2 over ocean
    sd_land: float = 0.6  # K, over tropical land
    sd_land_polar: float = 1.7  # K, added x sin(lat)^2 over land
    sd_land_winter: float = 0.35  # relative winter increase (summer decrease) over land


@dataclass(frozen=True)
class ToyEnsembleParams:
    """All physical parameters of the synthetic ensemble."""

    ebm: ebm.EBMParams = field(default_factory=ebm.EBMParams)
    enso: em.RechargeOscillatorParams = field(default_factory=em.RechargeOscillatorParams)
    noise: NoiseParams = field(default_factory=NoiseParams)

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_PARAMS = ToyEnsembleParams()


# ---------------------------------------------------------------- static fields


def _land_fraction(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    from climviz.data.landmask import land_fraction

    return np.clip(np.asarray(land_fraction(lat, lon), dtype=float), 0.0, 1.0)


def _hemisphere_sign(lat: np.ndarray) -> np.ndarray:
    """+1 north, -1 south, smooth across the equator, shape ``[nlat, 1]``."""
    return np.tanh(np.asarray(lat, dtype=float) / 8.0)[:, None]


def climatology(lat: np.ndarray, lon: np.ndarray, land: np.ndarray) -> np.ndarray:
    """Monthly climatology of tas in K, shape ``[12, nlat, nlon]`` float64 (January first).

    Annual mean ``252 + 48 cos(lat)^1.5`` (300 K at the equator, 252 K at the
    poles), 12 K colder towards the South Pole and up to 8 K colder over
    high-latitude land; seasonal cycle ``-A cos(2 pi (tau - tau_min) / 12)`` times
    the hemisphere sign, ``A = (1-f)(0.5 + 4 s^2 + 10 s^8) + f(1.5 + 18 |s|^1.5)``
    K with ``s = sin(lat)`` (the ``s^8`` term: sea ice), ``tau_min`` mid-January
    over land and late February over ocean.
    """
    lat = np.asarray(lat, dtype=float)
    s = np.sin(np.deg2rad(lat))[:, None]
    c = np.cos(np.deg2rad(lat))[:, None]
    f = np.asarray(land, dtype=float)
    annual = 252.0 + 48.0 * c**1.5 - 12.0 * np.maximum(-s, 0.0) ** 8 - 8.0 * f * s**2
    amp_sea = (1.0 - f) * (0.5 + 4.0 * s**2 + 10.0 * s**8)
    amp_land = f * (1.5 + 18.0 * np.abs(s) ** 1.5)
    tau = np.arange(12)[:, None, None] + 0.5  # mid-month, months since 1 January
    hemi = _hemisphere_sign(lat)
    cyc = amp_land * np.cos(2 * np.pi * (tau - 0.5) / 12) + amp_sea * np.cos(2 * np.pi * (tau - 1.9) / 12)
    return annual[None] * np.ones_like(cyc) - hemi[None] * cyc


def noise_sd(
    lat: np.ndarray, lon: np.ndarray, land: np.ndarray, params: NoiseParams = NoiseParams()
) -> np.ndarray:
    """Standard deviation of the noise in K, shape ``[12, nlat, nlon]`` (see :class:`NoiseParams`).

    Ocean ``sd_ocean + sd_ocean_polar s^2``; land ``(sd_land + sd_land_polar s^2)
    (1 + sd_land_winter |s| w)`` with ``w`` = +1 in mid-winter, -1 in mid-summer
    of each hemisphere; mixed in variance by the land fraction.
    """
    p = params
    s = np.sin(np.deg2rad(np.asarray(lat, dtype=float)))[:, None]
    f = np.asarray(land, dtype=float)[None]
    tau = np.arange(12)[:, None, None] + 0.5
    winter = _hemisphere_sign(lat)[None] * np.cos(2 * np.pi * (tau - 0.5) / 12)
    sd_o = (p.sd_ocean + p.sd_ocean_polar * s**2)[None]
    sd_l = (p.sd_land + p.sd_land_polar * s**2)[None] * (1.0 + p.sd_land_winter * np.abs(s)[None] * winter)
    return np.sqrt((1.0 - f) * sd_o**2 + f * sd_l**2) * np.ones((12, 1, len(lon)))


def noise_spectrum(length_km: float, lmax: int) -> np.ndarray:
    """Angular power ``C_l = exp(-l(l+1) (L/a)^2 / 4)``, ``l = 0..lmax-1`` (unnormalised), shape ``[lmax]``."""
    ell = np.arange(lmax, dtype=float)
    return np.exp(-ell * (ell + 1) * (length_km / EARTH_RADIUS_KM) ** 2 / 4.0)


def synthesis_matrix(lat: np.ndarray, nlon: int, params: NoiseParams = NoiseParams()) -> np.ndarray:
    """Scaled associated Legendre functions ``[mmax, lmax, nlat]`` float32 for unit-variance noise.

    Entry ``[m, l, j]`` is the orthonormal ``P_l^m(sin lat_j)`` times
    ``sqrt(C_l)`` (``sqrt(C_l / 2)`` for ``m > 0``, whose real and imaginary
    parts are drawn separately) divided by the field's standard deviation at
    ``lat_j``, so that real unit normal coefficients ``a[l, m]`` synthesise
    ``f = X_0 + 2 sum_{m>0} Re(X_m e^{i m lon})`` with variance exactly 1 at
    every grid point.
    """
    import torch
    from torch_harmonics.legendre import legpoly

    nlat = len(lat)
    lmax = min(int(params.lmax), nlat)
    mmax = min(lmax, nlon // 2)  # stay below the Nyquist wavenumber
    x = torch.as_tensor(np.sin(np.deg2rad(np.asarray(lat, dtype=float))), dtype=torch.float64)
    pct = legpoly(mmax, lmax, x, norm="ortho", inverse=True, csphase=True).numpy()  # [m, l, j]
    cl = noise_spectrum(params.length_km, lmax)
    scale = np.sqrt(cl)[None, :, None] * np.where(np.arange(mmax) > 0, np.sqrt(0.5), 1.0)[:, None, None]
    mat = pct * scale
    # var(j) = sum_l C_l (P_l0^2 + 2 sum_{m>0} P_lm^2) = sum over the scaled matrix: m=0 once, m>0 x4
    weight = np.where(np.arange(mmax) > 0, 4.0, 1.0)[:, None, None]
    var = (weight * mat**2).sum(axis=(0, 1))
    return (mat / np.sqrt(var)[None, None, :]).astype(np.float32)


@dataclass(frozen=True)
class _Static:
    lat: np.ndarray
    lon: np.ndarray
    land: np.ndarray  # [nlat, nlon]
    patterns: np.ndarray  # [17, nlat*nlon] f32: 12 month climatologies, co2, volc, enso direct/lagged/winter
    sd_ocean: np.ndarray  # [12, nlat*nlon] f32, noise sd x sqrt(1 - land)
    sd_land: np.ndarray  # [12, nlat*nlon] f32, noise sd x sqrt(land)
    forced: dict  # global response arrays from 1850 to LAST_YEAR


@functools.lru_cache(maxsize=8)
def _static(nlat: int, nlon: int, params: ToyEnsembleParams) -> _Static:
    lat, lon = global_grid(nlat, nlon)
    land = _land_fraction(lat, lon)
    enso = em.enso_patterns(lat, lon, land)
    pats = np.concatenate(
        [
            climatology(lat, lon, land),
            ebm.warming_pattern(lat, lon, land)[None],
            ebm.volcanic_pattern(lat, lon, land)[None],
            enso["direct"][None],
            enso["lagged"][None],
            enso["winter"][None],
        ]
    ).reshape(17, nlat * nlon)
    sd = noise_sd(lat, lon, land, params.noise).reshape(12, -1)
    n_all = 12 * (ebm.LAST_YEAR - ebm.ORIGIN_YEAR + 1)
    st = _Static(
        lat=lat,
        lon=lon,
        land=land,
        patterns=pats.astype(np.float32),
        sd_ocean=(sd * np.sqrt(1.0 - land.ravel())).astype(np.float32),
        sd_land=(sd * np.sqrt(land.ravel())).astype(np.float32),
        forced=ebm.global_response(n_all, params.ebm),
    )
    for arr in (st.lat, st.lon, st.land, st.patterns, st.sd_ocean, st.sd_land, *st.forced.values()):
        arr.setflags(write=False)  # cached: shared by every caller
    return st


# ---------------------------------------------------------------- members


def _check_period(start: int, end: int) -> tuple[int, int]:
    """Month indices ``[n0, n1)`` since January 1850 for whole years ``start..end``."""
    start, end = int(start), int(end)
    if not ebm.ORIGIN_YEAR <= start <= end <= ebm.LAST_YEAR:
        raise ValueError(
            f"period {start}-{end} outside the historical forcing: need "
            f"{ebm.ORIGIN_YEAR} <= start <= end <= {ebm.LAST_YEAR}"
        )
    return 12 * (start - ebm.ORIGIN_YEAR), 12 * (end - ebm.ORIGIN_YEAR + 1)


def _check_grid(grid: tuple[int, int]) -> tuple[int, int]:
    nlat, nlon = (int(v) for v in grid)
    if nlat < 4 or nlon != 2 * nlat:
        raise ValueError(f"grid must be (nlat, 2*nlat) with nlat >= 4, got {grid!r}")
    return nlat, nlon


def _streams(k: int, seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    if int(k) < 0 or int(seed) < 0:
        raise ValueError(f"member index and seed must be >= 0, got k={k}, seed={seed}")
    enso_ss, noise_ss = np.random.SeedSequence([int(seed), int(k)]).spawn(2)
    return np.random.default_rng(enso_ss), np.random.default_rng(noise_ss)


def enso_index(
    k: int, *, start: int = 1850, end: int = 2005, seed: int = 0, params: ToyEnsembleParams = DEFAULT_PARAMS
) -> np.ndarray:
    """The recharge-oscillator ENSO index ``T`` of member ``k`` in K, shape ``[time]`` float64.

    This is the ENSO part of the member's Nino3.4 area mean (the field adds
    forced response and noise; the remote lobes add < 1e-3 K per K there).
    It does not depend on the grid.
    """
    n0, n1 = _check_period(start, end)
    rng_enso, _ = _streams(k, seed)
    t, _ = em.recharge_oscillator(n1, rng_enso, params.enso)
    return t[n0:n1]


@functools.lru_cache(maxsize=8)
def _synthesis_cached(nlat: int, nlon: int, params: NoiseParams) -> np.ndarray:
    lat, _ = global_grid(nlat, nlon)
    return synthesis_matrix(lat, nlon, params)


def _unit_noise(rng, n0: int, n1: int, grid, params: NoiseParams) -> list[np.ndarray]:
    """The two fields of :func:`unit_noise` as separate arrays, each ``[n1-n0, lat, lon]``."""
    from scipy import fft, signal

    nlat, nlon = _check_grid(grid)
    synth = _synthesis_cached(nlat, nlon, params)
    mmax, lmax, _ = synth.shape
    # coefficients drawn month by month from January 1850: [n1, process, m, re/im, l]
    e = rng.standard_normal((n1, 2, mmax, 2, lmax), dtype=np.float32)
    coef = np.empty((n1 - n0, 2, mmax, 2, lmax), dtype=np.float32)
    for i, a in enumerate((params.lag1_ocean, params.lag1_land)):
        u = np.float32(np.sqrt(1.0 - a * a)) * e[:, i]
        u[0] = e[0, i]  # stationary start: x_0 ~ N(0, 1)
        b_ar, a_ar = np.array([1.0], np.float32), np.array([1.0, -a], np.float32)
        coef[:, i] = signal.lfilter(b_ar, a_ar, u, axis=0)[n0:n1]
    # Legendre synthesis as one batched matmul over m: [m, T*2*2, l] @ [m, l, nlat]
    c = coef.transpose(2, 0, 1, 3, 4).reshape(mmax, -1, lmax)
    y = np.matmul(c, synth).reshape(mmax, n1 - n0, 2, 2, nlat)  # [m, t, proc, re/im, lat]
    spec = np.ascontiguousarray(y.transpose(2, 1, 4, 0, 3)).view(np.complex64)[..., 0]  # [proc, t, lat, m]
    # irfft zero-pads wavenumbers mmax .. nlon/2; the imaginary part of m = 0 is ignored
    return [
        fft.irfft(sp, n=nlon, axis=-1, norm="forward", workers=2).astype(np.float32, copy=False)
        for sp in spec
    ]


def unit_noise(
    rng: np.random.Generator,
    *,
    n0: int,
    n1: int,
    grid: tuple[int, int] = DEFAULT_GRID,
    params: NoiseParams = NoiseParams(),
) -> np.ndarray:
    """Two independent unit-variance red-noise fields, ``[2, n1-n0, lat, lon]`` float32.

    Spectral coefficients are drawn month by month from January 1850 (month 0)
    to month ``n1`` and filtered in time by AR(1) with lag-1 autocorrelation
    ``params.lag1_ocean`` (field 0) and ``params.lag1_land`` (field 1), starting
    from the stationary distribution; only months ``n0 .. n1-1`` are
    synthesised on the grid (see :func:`synthesis_matrix`).
    """
    if not 0 <= int(n0) < int(n1):
        raise ValueError(f"need 0 <= n0 < n1, got n0={n0}, n1={n1}")
    return np.stack(_unit_noise(rng, int(n0), int(n1), grid, params))


def member_field(
    k: int,
    *,
    start: int = 1850,
    end: int = 2005,
    grid: tuple[int, int] = DEFAULT_GRID,
    seed: int = 0,
    params: ToyEnsembleParams = DEFAULT_PARAMS,
) -> np.ndarray:
    """Member ``k`` of the synthetic ensemble, ``tas`` in K, shape ``[time, lat, lon]`` float32.

    ``time`` runs over the months of the years ``start..end`` (inclusive);
    ``lat``/``lon`` are the canonical Gaussian grid ``grid = (nlat, nlon)``.
    """
    n0, n1 = _check_period(start, end)
    nlat, nlon = _check_grid(grid)
    st = _static(nlat, nlon, params)
    rng_enso, rng_noise = _streams(k, seed)
    nt = n1 - n0
    t_enso, _ = em.recharge_oscillator(n1, rng_enso, params.enso)
    lag = em.REMOTE_LAG_MONTHS
    t_lag = np.concatenate([np.zeros(lag), t_enso])[:n1]
    month = np.arange(n0, n1) % 12
    coeff = np.zeros((nt, 17), dtype=np.float32)
    coeff[np.arange(nt), month] = 1.0
    coeff[:, 12] = st.forced["tas_co2"][n0:n1]
    coeff[:, 13] = st.forced["tas_volcanic"][n0:n1]
    coeff[:, 14] = t_enso[n0:n1]
    coeff[:, 15] = t_lag[n0:n1]
    coeff[:, 16] = t_enso[n0:n1] * em.winter_weight(month)
    x_ocean, x_land = _unit_noise(rng_noise, n0, n1, (nlat, nlon), params.noise)
    # in place, to spare large temporaries: out = sd_o x_ocean + sd_l x_land + coeff @ patterns
    out, tmp = x_ocean.reshape(nt // 12, 12, -1), x_land.reshape(nt // 12, 12, -1)
    out *= st.sd_ocean[None]
    tmp *= st.sd_land[None]
    out += tmp
    out, tmp = out.reshape(nt, -1), tmp.reshape(nt, -1)
    np.matmul(coeff, st.patterns, out=tmp)
    out += tmp
    return x_ocean


def forced_field(
    *,
    start: int = 1850,
    end: int = 2005,
    grid: tuple[int, int] = DEFAULT_GRID,
    params: ToyEnsembleParams = DEFAULT_PARAMS,
) -> np.ndarray:
    """The part every member shares, climatology + forced response, ``[time, lat, lon]`` float32 (K)."""
    n0, n1 = _check_period(start, end)
    nlat, nlon = _check_grid(grid)
    st = _static(nlat, nlon, params)
    nt = n1 - n0
    coeff = np.zeros((nt, 14), dtype=np.float32)
    coeff[np.arange(nt), np.arange(n0, n1) % 12] = 1.0
    coeff[:, 12] = st.forced["tas_co2"][n0:n1]
    coeff[:, 13] = st.forced["tas_volcanic"][n0:n1]
    return (coeff @ st.patterns[:14]).reshape(nt, nlat, nlon)


def land_fraction_on(grid: tuple[int, int] = DEFAULT_GRID) -> xr.DataArray:
    """The land fraction the ensemble uses on ``grid``, ``(lat, lon)`` in [0, 1]."""
    st = _static(*_check_grid(grid), DEFAULT_PARAMS)
    return xr.DataArray(st.land.copy(), dims=("lat", "lon"), coords={"lat": st.lat, "lon": st.lon})


# ---------------------------------------------------------------- coordinates and attributes


def time_axis(start: int, end: int) -> tuple[list, np.ndarray]:
    """Mid-month cftime stamps (day 15) for years ``start..end`` and bounds ``[time, 2]`` in days since 1850-01-01."""
    import cftime

    stamps = [
        cftime.datetime(y, m, 15, calendar=CALENDAR) for y in range(start, end + 1) for m in range(1, 13)
    ]
    edges = [cftime.datetime(y, m, 1, calendar=CALENDAR) for y in range(start, end + 1) for m in range(1, 13)]
    edges.append(cftime.datetime(end + 1, 1, 1, calendar=CALENDAR))
    e = np.asarray(cftime.date2num(edges, TIME_UNITS, calendar=CALENDAR), dtype=float)
    return stamps, np.stack([e[:-1], e[1:]], axis=1)


def forced_response(
    *, start: int = 1850, end: int = 2005, params: ToyEnsembleParams = DEFAULT_PARAMS
) -> xr.Dataset:
    """Forcing and global-mean forced response shared by all members, dims ``(time,)``.

    Variables: ``co2`` (ppm), ``aod``, ``forcing_co2`` and ``forcing_volcanic``
    (W m-2), ``tas_co2``, ``tas_volcanic``, ``tas`` (global-mean surface
    anomaly relative to 1850, K; the area-weighted global mean of
    :func:`forced_field` minus its climatology) and ``deep_ocean`` (K).
    """
    n0, n1 = _check_period(start, end)
    resp = ebm.global_response(n1, params.ebm)
    stamps, _ = time_axis(start, end)
    units = {"co2": "ppm", "aod": "1", "forcing_co2": "W m-2", "forcing_volcanic": "W m-2"}
    return xr.Dataset(
        {k: ("time", v[n0:n1], {"units": units.get(k, "K")}) for k, v in resp.items()},
        coords={"time": stamps},
        attrs={"synthetic": "yes", "comment": "global-mean forced response of the synthetic ensemble"},
    )


def _provenance(seed: int, params: ToyEnsembleParams) -> dict[str, str]:
    import climviz

    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "title": "climviz synthetic grand ensemble of monthly near-surface air temperature",
        "Conventions": "CF-1.8",
        "source": "climviz synthetic grand ensemble",
        "synthetic": "yes",
        "comment": (
            "SYNTHETIC DATA: made by a stochastic model (two-box energy balance model forced by CO2 and "
            "volcanic forcing, a stochastic recharge-oscillator ENSO, spatially correlated red noise). "
            "These are NOT observations and NOT output of a climate model."
        ),
        "institution": "climviz",
        "generator": f"{__name__} (climviz {climviz.__version__})",
        "seed": str(int(seed)),
        "physical_parameters": json.dumps(params.to_dict(), sort_keys=True),
        "history": f"{now}: created by {__name__}.write_toy_ensemble / toy_ensemble (climviz {climviz.__version__})",
    }


TAS_ATTRS = {
    "standard_name": "air_temperature",
    "long_name": "Near-surface air temperature (synthetic)",
    "units": "K",
    "cell_methods": "time: mean",
}
LAT_ATTRS = {"standard_name": "latitude", "long_name": "latitude", "units": "degrees_north", "axis": "Y"}
LON_ATTRS = {"standard_name": "longitude", "long_name": "longitude", "units": "degrees_east", "axis": "X"}
MEMBER_ATTRS = {"long_name": "ensemble member"}


def _member_list(members: int | Sequence[int]) -> list[int]:
    if isinstance(members, (int, np.integer)):
        if int(members) < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        return list(range(int(members)))
    ks = [int(k) for k in members]
    if not ks or len(set(ks)) != len(ks) or min(ks) < 0:
        raise ValueError(f"members must be distinct indices >= 0, got {members!r}")
    return ks


def _dataset(data: np.ndarray, ks: list[int], start: int, end: int, grid, seed: int, params) -> xr.Dataset:
    """Dataset with ``tas(member, time, lat, lon)``, coordinates, bounds and attributes."""
    from climviz.data.landmask import lat_edges, lon_edges

    lat, lon = global_grid(*grid)
    stamps, tb = time_axis(start, end)
    le, oe = lat_edges(lat), lon_edges(lon)
    ds = xr.Dataset(
        {
            "tas": (("member", "time", "lat", "lon"), data, dict(TAS_ATTRS)),
            "time_bnds": (("time", "bnds"), tb),
            "lat_bnds": (("lat", "bnds"), np.stack([le[:-1], le[1:]], axis=1)),
            "lon_bnds": (("lon", "bnds"), np.stack([oe[:-1], oe[1:]], axis=1)),
        },
        coords={
            "member": ("member", np.asarray(ks, dtype=np.int32), dict(MEMBER_ATTRS)),
            "time": ("time", stamps, {"standard_name": "time", "axis": "T", "bounds": "time_bnds"}),
            "lat": ("lat", lat, {**LAT_ATTRS, "bounds": "lat_bnds"}),
            "lon": ("lon", lon, {**LON_ATTRS, "bounds": "lon_bnds"}),
        },
        attrs=_provenance(seed, params),
    )
    return ds


def toy_ensemble(
    members: int | Sequence[int] = 30,
    start: int = 1850,
    end: int = 2005,
    grid: tuple[int, int] = DEFAULT_GRID,
    seed: int = 0,
    *,
    params: ToyEnsembleParams = DEFAULT_PARAMS,
) -> xr.DataArray:
    """The synthetic ensemble in memory: ``tas`` with dims ``(member, time, lat, lon)``, float32, K.

    Parameters
    ----------
    members : int or sequence of int
        ``n`` for members ``0..n-1``, or the member indices wanted.
    start, end : int
        First and last year (inclusive), within 1850-2005.
    grid : (nlat, nlon)
        Canonical Gaussian grid, ``nlon = 2 nlat``.
    seed : int
        Ensemble seed; member ``k`` uses ``SeedSequence([seed, k])``.

    Examples
    --------
    >>> da = toy_ensemble([0, 3], start=1990, end=1991, grid=(24, 48))
    >>> da.dims, da.shape
    (('member', 'time', 'lat', 'lon'), (2, 24, 24, 48))
    """
    ks = _member_list(members)
    nlat, nlon = _check_grid(grid)
    data = np.stack(
        [member_field(k, start=start, end=end, grid=(nlat, nlon), seed=seed, params=params) for k in ks]
    )
    ds = _dataset(data, ks, int(start), int(end), (nlat, nlon), seed, params)
    da = ds["tas"]
    da.attrs.update({k: v for k, v in ds.attrs.items() if k in ("source", "synthetic", "comment", "seed")})
    return da
