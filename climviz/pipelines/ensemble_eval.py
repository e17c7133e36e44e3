"""Judge a generated ensemble against held-out true members (`climviz evaluate ensemble`).

Protocol. The generator is conditioned on one held-out member ``c``. Its
members are scored against the other held-out members (never seen in
training). The "ideal ensemble" is a set of true members of the same size
(drawn from the training members, which are realisations of the same
distribution and independent of the held-out ones), scored the same way, so
that CRPS and rank histograms compare like with like.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import xarray as xr

from climviz.data.regions import REGIONS
from climviz.diagnostics.enso import eofs, nino34_index, pattern_correlation
from climviz.diagnostics.means import anomalies, area_mean, area_weights
from climviz.diagnostics.scores import crps_ensemble, rank_histogram, spread_ratio
from climviz.diagnostics.spectra import peak_period, temporal_power_spectrum
from climviz.diagnostics.volcanic import volcanic_composite

TARGETS = {
    "vae_rmse_global_K": (None, 0.25),
    "spread_ratio": (0.9, 1.1),
    "nino34_std_ratio": (0.85, 1.15),
    "enso_eof_pattern_correlation": (0.9, None),
    "pinatubo_composite_abs_diff_K": (None, 0.05),
    "crps_over_ideal": (None, 1.10),
}


def vae_rmse(generator, truth: xr.DataArray) -> dict:
    """Area-weighted RMSE (K) of VAE reconstructions of ``truth (member, time, lat, lon)``,
    globally and over Nino3.4."""
    months = np.array([t.month for t in truth["time"].values])
    rec = []
    for m in range(truth.sizes["member"]):
        x = generator.normalizer.normalize(truth.isel(member=m).values, months)
        z = generator.encode(x)
        rec.append(generator.normalizer.denormalize(generator.decode(z), months))
    rec = xr.DataArray(np.stack(rec), dims=truth.dims, coords=truth.coords)
    sq = (rec - truth) ** 2
    return {
        "vae_rmse_global_K": float(np.sqrt(area_mean(sq).mean())),
        "vae_rmse_nino34_K": float(np.sqrt(area_mean(sq, REGIONS["Nino3.4"]).mean())),
    }


def _nino_stats(ens: xr.DataArray) -> tuple[float, float, float]:
    """Nino3.4 std (K), spectral peak period (yr) and lag-1 autocorrelation (monthly)."""
    idx = nino34_index(ens)
    spec = temporal_power_spectrum(idx, dim="time").mean("member")
    lag1 = float(xr.corr(idx.isel(time=slice(1, None)),
                         idx.isel(time=slice(None, -1)).assign_coords(time=idx["time"][1:]), dim="time").mean())
    return float(idx.std()), float(peak_period(spec)), lag1


def _enso_eof(ens: xr.DataArray) -> xr.DataArray:
    anom = anomalies(ens)
    stacked = anom.stack(sample=("member", "time")).transpose("sample", "lat", "lon")
    stacked = stacked.drop_vars(["sample", "member", "time"]).rename(sample="time")
    return eofs(stacked, n=1, region="-30,30,120,290")["eof"].isel(mode=0)


def _composites(ens: xr.DataArray) -> xr.DataArray:
    """Ensemble-mean global-mean composite, mean over lags 6..23 months (K) per eruption."""
    comp = volcanic_composite(area_mean(ens)).mean("member")
    return comp.sel(lag=slice(6, 23)).mean("lag")


def evaluate_ensemble(generated: xr.DataArray, truth: xr.DataArray, ideal: xr.DataArray) -> dict:
    """Scores of ``generated`` against ``truth`` next to those of ``ideal``.

    All three are ``(member, time, lat, lon)`` in K on one grid and period;
    ``generated`` and ``ideal`` should have the same number of members.
    """
    w = area_weights(truth)
    obs = truth.rename(member="obs")
    crps_gen = float(crps_ensemble(generated, obs, dim=None, weights=w))
    crps_ideal = float(crps_ensemble(ideal, obs, dim=None, weights=w))
    ranks = rank_histogram(generated, obs, dim=None)
    ranks_ideal = rank_histogram(ideal, obs, dim=None)
    sd_gen, peak_gen, lag1_gen = _nino_stats(generated)
    sd_true, peak_true, lag1_true = _nino_stats(xr.concat([truth, ideal], "member"))
    eof_gen, eof_true = _enso_eof(generated), _enso_eof(xr.concat([truth, ideal], "member"))
    comp_gen, comp_true = _composites(generated), _composites(xr.concat([truth, ideal], "member"))
    out = {
        "spread_ratio": float(spread_ratio(generated, xr.concat([truth, ideal], "member"), dim=None, weights=w)),
        "crps_generated_K": crps_gen,
        "crps_ideal_K": crps_ideal,
        "crps_over_ideal": crps_gen / crps_ideal,
        "rank_histogram": [int(v) for v in np.asarray(ranks.values).ravel()],
        "rank_histogram_ideal": [int(v) for v in np.asarray(ranks_ideal.values).ravel()],
        "nino34_std_generated_K": sd_gen,
        "nino34_std_true_K": sd_true,
        "nino34_std_ratio": sd_gen / sd_true,
        "nino34_peak_period_generated_yr": peak_gen,
        "nino34_peak_period_true_yr": peak_true,
        "nino34_lag1_autocorr_generated": lag1_gen,
        "nino34_lag1_autocorr_true": lag1_true,
        "enso_eof_pattern_correlation": float(pattern_correlation(eof_gen, eof_true, abs=True)),
    }
    for name in ("Pinatubo", "El Chichon", "Agung"):
        if name in comp_true["eruption"].values:
            g, t = float(comp_gen.sel(eruption=name)), float(comp_true.sel(eruption=name))
            key = name.lower().replace(" ", "_")
            out[f"{key}_composite_generated_K"] = g
            out[f"{key}_composite_true_K"] = t
            out[f"{key}_composite_abs_diff_K"] = abs(g - t)
    return out


def check_targets(scores: dict) -> dict:
    """``{metric: True/False}`` for each target in :data:`TARGETS` present in ``scores``."""
    out = {}
    for key, (lo, hi) in TARGETS.items():
        if key in scores:
            v = scores[key]
            out[key] = bool((lo is None or v >= lo) and (hi is None or v <= hi))
    return out


def run_evaluation(generator, data, *, cond_member: int, truth_members: list[int], ideal_members: list[int],
                   n_members: int, steps: int, modes=None, start=None, end=None, seed=0, sampler="ddim",
                   out_dir=None, progress=None) -> dict:
    """Generate from ``cond_member`` of ``data`` with each mode and score it (see module doc)."""
    from climviz.data.loader import open_ensemble

    ens = open_ensemble(data, require_global=True)
    if start or end:
        ens = ens.sel(time=slice(start, end))
    cond = ens.sel(member=cond_member).load()
    truth = ens.sel(member=truth_members).load()
    ideal = ens.sel(member=ideal_members[:n_members]).load()
    result = {
        "data": str(data), "data_synthetic": str(ens.attrs.get("synthetic", "unknown")),
        "cond_member": cond_member, "truth_members": truth_members,
        "ideal_members": ideal_members[:n_members], "n_members": n_members, "steps": steps, "sampler": sampler,
        "period": [str(cond["time"].values[0]), str(cond["time"].values[-1])], "seed": seed,
        **vae_rmse(generator, truth),
        "modes": {},
    }
    for mode in modes or generator.modes:
        t0 = time.time()
        gen = generator.generate(cond, n_members=n_members, steps=steps, mode=mode, seed=seed,
                                 sampler=sampler, progress=progress)
        scores = evaluate_ensemble(gen, truth, ideal)
        scores["generation_wall_s"] = round(time.time() - t0, 1)
        scores["targets_met"] = check_targets({**scores, **result})
        result["modes"][mode] = scores
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "ensemble_scores.json").write_text(json.dumps(result, indent=1))
    return result


def markdown_table(result: dict) -> str:
    """The README table: one row per metric, one column per mode."""
    modes = list(result["modes"])
    rows = [
        ("VAE RMSE, global (K)", "vae_rmse_global_K", "< 0.25", None),
        ("VAE RMSE, Nino3.4 (K)", "vae_rmse_nino34_K", "", None),
        ("spread ratio (generated / true)", "spread_ratio", "0.9-1.1", "m"),
        ("CRPS generated (K)", "crps_generated_K", "", "m"),
        ("CRPS ideal ensemble (K)", "crps_ideal_K", "", "m"),
        ("CRPS / ideal", "crps_over_ideal", "<= 1.10", "m"),
        ("Nino3.4 std ratio", "nino34_std_ratio", "0.85-1.15", "m"),
        ("Nino3.4 peak period, generated / true (yr)", ("nino34_peak_period_generated_yr", "nino34_peak_period_true_yr"), "", "m"),
        ("Nino3.4 lag-1 autocorrelation, generated / true", ("nino34_lag1_autocorr_generated", "nino34_lag1_autocorr_true"), "", "m"),
        ("ENSO EOF-1 pattern correlation", "enso_eof_pattern_correlation", ">= 0.9", "m"),
        ("Pinatubo composite, generated / true (K)", ("pinatubo_composite_generated_K", "pinatubo_composite_true_K"), "diff <= 0.05", "m"),
        ("El Chichon composite, generated / true (K)", ("el_chichon_composite_generated_K", "el_chichon_composite_true_K"), "", "m"),
        ("Agung composite, generated / true (K)", ("agung_composite_generated_K", "agung_composite_true_K"), "", "m"),
        ("generation wall time (s)", "generation_wall_s", "", "m"),
    ]

    def fmt(src: dict, key) -> str:
        if isinstance(key, tuple):
            if not all(k in src for k in key):
                return "n/a"
            return " / ".join(f"{src[k]:.3g}" for k in key)
        return f"{src[key]:.3g}" if key in src else "n/a"

    lines = ["| metric | target | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    for label, key, target, per_mode in rows:
        cells = [fmt(result["modes"][m], key) if per_mode else fmt(result, key) for m in modes]
        lines.append(f"| {label} | {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
