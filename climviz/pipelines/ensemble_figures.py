"""The figures of `climviz evaluate ensemble` and the range a perfect generator would get.

Every ENSO and volcanic figure is a function of per-member statistics
(:func:`member_statistics`): Nino3.4 autocovariance to 36 months, full-record
multitaper spectrum and its variance by period band, and the volcanic
composites of the global mean. Pooling members is then a mean over members,
so a figure of any subset of members costs nothing once those are known.

The spread ratio and the fair CRPS of a subset are exact linear combinations of
two member-by-member matrices (:class:`PairMoments`): the area- and time-mean
product of deviations and the mean absolute difference. That makes the
*perfect-generator range* cheap: true members stand in for the generated ones
(:func:`perfect_generator_ranges`), drawn many times, and each figure's
2.5-97.5% range says how far from the truth sampling alone moves it.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climviz.diagnostics.enso import nino34_anomalies
from climviz.diagnostics.means import anomalies, area_mean, area_weights
from climviz.diagnostics.spectra import peak_period
from climviz.diagnostics.timeseries import BANDS, autocovariance, band_variance, multitaper_spectrum
from climviz.diagnostics.volcanic import volcanic_composite

ACF_LAGS = 36  # months of autocorrelation compared
COMPOSITE_LAGS = (6, 18)  # months after the eruption averaged (inclusive)
ERUPTIONS = ("Agung", "El Chichon", "Pinatubo")
N_RESAMPLES = 200


def _key(name: str) -> str:
    return name.lower().replace(" ", "_")


def band_key(band: str) -> str:
    """``"0.5-1 yr"`` -> ``"nino34_band_ratio_0.5-1yr"``."""
    return "nino34_band_ratio_" + band.replace(" ", "")


def member_statistics(ens: xr.DataArray) -> xr.Dataset:
    """Per-member statistics of ``ens (member, time, lat, lon)`` in K, monthly.

    ``autocov (member, lag)``: autocovariance of the Nino3.4 anomalies
    (:func:`~climviz.diagnostics.enso.nino34_anomalies`: each member's monthly
    climatology and linear trend removed) to :data:`ACF_LAGS`; ``psd (member,
    frequency)``: their multitaper spectrum over the whole record; ``band_variance
    (member, band)``: its variance in :data:`~climviz.diagnostics.timeseries.BANDS`;
    ``composite (member, eruption)``: global mean of months 6-18 after each
    eruption minus the 5 years before, each member's monthly climatology removed.
    """
    anom = nino34_anomalies(ens)
    psd = multitaper_spectrum(anom)
    out = xr.Dataset(
        {"autocov": autocovariance(anom, ACF_LAGS), "psd": psd, "band_variance": band_variance(psd)}
    )
    gm = anomalies(area_mean(ens))
    try:
        comp = volcanic_composite(gm, before_years=5, after_months=COMPOSITE_LAGS[1] + 1, seasonal=False)
        out["composite"] = comp.sel(lag=slice(*COMPOSITE_LAGS)).mean("lag").drop_vars("eruption_year")
    except ValueError:  # no eruption with a full baseline in the period
        pass
    return out


def enso_volcanic_figures(gen: xr.Dataset, ref: xr.Dataset) -> dict:
    """ENSO and volcanic figures of the members in ``gen`` against those in ``ref``
    (both from :func:`member_statistics`), pooled over members."""
    cov_g, cov_r = gen["autocov"].mean("member"), ref["autocov"].mean("member")
    acf_g, acf_r = cov_g / cov_g.isel(lag=0), cov_r / cov_r.isel(lag=0)
    out = {
        "nino34_std_generated_K": float(np.sqrt(cov_g.isel(lag=0))),
        "nino34_std_true_K": float(np.sqrt(cov_r.isel(lag=0))),
        "nino34_lag1_autocorr_generated": float(acf_g.sel(lag=1)),
        "nino34_lag1_autocorr_true": float(acf_r.sel(lag=1)),
        "nino34_acf_rmse": float(np.sqrt(((acf_g - acf_r).sel(lag=slice(1, None)) ** 2).mean())),
        "nino34_peak_period_generated_yr": float(peak_period(gen["psd"].mean("member"))),
        "nino34_peak_period_true_yr": float(peak_period(ref["psd"].mean("member"))),
    }
    out["nino34_std_ratio"] = out["nino34_std_generated_K"] / out["nino34_std_true_K"]
    out["nino34_lag1_abs_diff"] = abs(
        out["nino34_lag1_autocorr_generated"] - out["nino34_lag1_autocorr_true"]
    )
    ratio = gen["band_variance"].mean("member") / ref["band_variance"].mean("member")
    out.update({band_key(str(b)): float(ratio.sel(band=b)) for b in ratio["band"].values})
    if "composite" in gen and "composite" in ref:
        cg, cr = gen["composite"].mean("member"), ref["composite"].mean("member")
        names = [e for e in ERUPTIONS if e in cg["eruption"].values]
        for name in names:
            g, t = float(cg.sel(eruption=name)), float(cr.sel(eruption=name))
            out.update(
                {
                    f"{_key(name)}_composite_generated_K": g,
                    f"{_key(name)}_composite_true_K": t,
                    f"{_key(name)}_composite_abs_diff_K": abs(g - t),
                }
            )
        if names:
            g, t = float(cg.sel(eruption=names).mean()), float(cr.sel(eruption=names).mean())
            out.update(
                {
                    "eruptions_mean_composite_generated_K": g,
                    "eruptions_mean_composite_true_K": t,
                    "eruptions_mean_composite_abs_diff_K": abs(g - t),
                }
            )
    return out


class PairMoments:
    """Area- and time-mean pair moments of the members of ``fields (member, time, lat, lon)``.

    ``prod[i, j] = <(x_i - m)(x_j - m)>`` and ``absdiff[i, j] = <|x_i - x_j|>``, with ``<.>``
    the cos-lat weighted mean over time and space and ``m`` the all-member mean. For
    any subset ``S`` of ``M`` members, the mean ensemble variance (``ddof=1``) is
    ``(tr P_SS - sum P_SS / M) / (M - 1)``, and the mean fair CRPS against member ``o`` is
    ``sum_i A_io / M - sum_ij A_ij / (2 M (M - 1))`` (``A = absdiff``): the same numbers as
    :func:`~climviz.diagnostics.scores.spread_ratio` and
    :func:`~climviz.diagnostics.scores.crps_ensemble` give, without touching the fields again.
    """

    def __init__(self, fields: xr.DataArray, *, chunk: int = 12):
        f = fields.transpose("member", "time", "lat", "lon")
        w = area_weights(f).values.astype(float)  # [lat]
        m, nt = f.sizes["member"], f.sizes["time"]
        wp = np.broadcast_to(w[:, None], (f.sizes["lat"], f.sizes["lon"])).ravel()
        wp = wp / (wp.sum() * nt)
        self.prod, self.absdiff = np.zeros((m, m)), np.zeros((m, m))
        for t0 in range(0, nt, chunk):
            x = np.asarray(f.isel(time=slice(t0, t0 + chunk)).values, dtype=float)
            x = x.reshape(m, x.shape[1], -1)
            x = (x - x.mean(0)).reshape(m, -1)
            wt = np.tile(wp, x.shape[1] // wp.size)
            self.prod += (x * wt) @ x.T
            for i in range(m - 1):
                self.absdiff[i, i + 1 :] += np.abs(x[i + 1 :] - x[i]) @ wt
        self.absdiff += self.absdiff.T
        self.members = list(fields["member"].values)

    def variance(self, s) -> float:
        """Mean across-member variance (``ddof=1``) of the members at positions ``s``."""
        s = np.asarray(s)
        p = self.prod[np.ix_(s, s)]
        return float((np.trace(p) - p.sum() / len(s)) / (len(s) - 1))

    def crps(self, s, obs) -> float:
        """Mean fair CRPS of the ensemble ``s`` against each member of ``obs`` (positions)."""
        s, obs = np.asarray(s), np.asarray(obs)
        m = len(s)
        skill = self.absdiff[np.ix_(s, obs)].mean()
        return float(skill - self.absdiff[np.ix_(s, s)].sum() / (2 * m * (m - 1)))


def perfect_generator_ranges(
    truth: xr.DataArray, pool: xr.DataArray, n_members: int, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> dict:
    """2.5-97.5% range of every figure for a perfect generator.

    Each draw splits the true ``pool`` members at random into ``n_members`` stand-ins
    for the generated ensemble and a disjoint ideal ensemble of ``n_members`` (or the
    rest of the pool, if smaller), then computes the figures exactly as
    :func:`climviz.pipelines.ensemble_eval.evaluate_ensemble` does, scored against
    ``truth`` (``(member, time, lat, lon)``, the held-out members). Ratios (and the ACF
    RMSE) take the range of their draws. A figure of the generated members alone (lag-1,
    peak period, composites) takes the range of its difference from the true value in
    each draw, added to the true value of the evaluation itself (``truth`` and the
    first ``n_members`` of ``pool``): a subset of a finite pool scatters less around the
    pool's own mean than an independent generator does around the truth. Uses data only.

    Returns ``{"n_resamples", "pool_members", "ranges": {figure: [lo, hi]}}``.
    """
    n_pool = pool.sizes["member"]
    if n_pool < n_members + 2:
        raise ValueError(
            f"a perfect-generator range needs at least {n_members + 2} pool members, got {n_pool}"
        )
    both = xr.concat([truth, pool], "member")
    stats = member_statistics(both)
    pairs = PairMoments(both)
    n_truth = truth.sizes["member"]
    obs = np.arange(n_truth)
    actual = enso_volcanic_figures(
        stats.isel(member=np.arange(n_members) + n_truth), stats.isel(member=np.arange(n_truth + n_members))
    )
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(int(n_resamples)):
        perm = n_truth + rng.permutation(n_pool)
        gen, ideal = perm[:n_members], perm[n_members : 2 * n_members]
        ref = np.concatenate([obs, ideal])
        figs = enso_volcanic_figures(stats.isel(member=gen), stats.isel(member=ref))
        figs["spread_ratio"] = float(np.sqrt(pairs.variance(gen) / pairs.variance(ref)))
        figs["crps_over_ideal"] = pairs.crps(gen, obs) / pairs.crps(ideal, obs)
        for k, v in figs.items():
            true_key = k.replace("_generated", "_true")
            if true_key != k:  # a figure of the generated members alone
                v = v - figs[true_key]
            draws.setdefault(k, []).append(v)
    ranges = {}
    for k, v in draws.items():
        true_key = k.replace("_generated", "_true")
        if k.endswith(("_true", "_true_K", "_true_yr")):
            continue
        lo, hi = np.percentile(v, [2.5, 97.5])
        shift = actual[true_key] if true_key != k else 0.0
        ranges[k] = [float(shift + lo), float(shift + hi)]
    return {
        "n_resamples": int(n_resamples),
        "pool_members": [int(m) for m in pool["member"].values],
        "ranges": ranges,
    }


__all__ = [
    "ACF_LAGS",
    "BANDS",
    "COMPOSITE_LAGS",
    "ERUPTIONS",
    "N_RESAMPLES",
    "PairMoments",
    "band_key",
    "enso_volcanic_figures",
    "member_statistics",
    "perfect_generator_ranges",
]
