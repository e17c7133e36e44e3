"""Judge a generated ensemble against held-out true members (`climviz evaluate ensemble`).

Protocol. The generator is conditioned on one held-out member ``c``. Its
members are scored against the other held-out members (never seen in
training). The "ideal ensemble" is a set of true members of the same size
(drawn from the training members, which are realisations of the same
distribution and independent of the held-out ones), scored the same way, so
that CRPS and rank histograms compare like with like. CRPS is the fair
estimator, so ensembles of different sizes compare too.

Next to each figure goes the range a perfect generator would get: true members
stand in for the generated ones, drawn 200 times
(:func:`climviz.pipelines.ensemble_figures.perfect_generator_ranges`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import xarray as xr

from climviz.data.regions import REGIONS
from climviz.diagnostics.enso import eofs, pattern_correlation
from climviz.diagnostics.means import anomalies, area_mean, area_weights
from climviz.diagnostics.scores import crps_ensemble, rank_histogram, spread_ratio
from climviz.pipelines.ensemble_figures import (
    BANDS,
    N_RESAMPLES,
    band_key,
    enso_volcanic_figures,
    member_statistics,
    perfect_generator_ranges,
)
from climviz.requests import GenerationRequest
from climviz.vocabulary import DEFAULT_SAMPLER

TARGETS = {  # issue 13's targets for the shipped generator
    "vae_rmse_global_K": (None, 0.15),
    "spread_ratio": (0.97, 1.03),
    "crps_over_ideal": (None, 1.05),
    "nino34_std_ratio": (0.85, 1.18),
    "nino34_lag1_abs_diff": (None, 0.03),
    "nino34_acf_rmse": (None, 0.11),
    "nino34_band_ratio_1-2yr": (0.67, 1.5),
    "nino34_band_ratio_2-4yr": (0.6, 1.65),
    "nino34_band_ratio_4-8yr": (0.5, 2.0),
    "enso_eof_pattern_correlation": (0.9, None),
    "agung_composite_abs_diff_K": (None, 0.12),
    "el_chichon_composite_abs_diff_K": (None, 0.12),
    "pinatubo_composite_abs_diff_K": (None, 0.12),
    "eruptions_mean_composite_abs_diff_K": (None, 0.07),
}


def vae_rmse(generator, truth: xr.DataArray) -> dict:
    """Area-weighted RMSE (K) of VAE reconstructions of ``truth (member, time, lat, lon)``,
    globally and over Nino3.4, and the spread ratio of the reconstructions to ``truth`` (the
    same members: how much of the spread a perfect latent generator could keep)."""
    months = np.asarray(truth["time"].dt.month.values)
    rec = [
        generator.decode_fields(generator.encode_fields(truth.isel(member=m).values, months)[None], months)[0]
        for m in range(truth.sizes["member"])
    ]
    rec = xr.DataArray(np.stack(rec), dims=truth.dims, coords=truth.coords)
    sq = (rec - truth) ** 2
    return {
        "vae_rmse_global_K": float(np.sqrt(area_mean(sq).mean())),
        "vae_rmse_nino34_K": float(np.sqrt(area_mean(sq, REGIONS["Nino3.4"]).mean())),
        "vae_spread_ratio": float(spread_ratio(rec, truth, dim=None, weights=area_weights(truth))),
    }


def _enso_eof(ens: xr.DataArray) -> xr.DataArray:
    anom = anomalies(ens)
    stacked = anom.stack(sample=("member", "time")).transpose("sample", "lat", "lon")
    stacked = stacked.drop_vars(["sample", "member", "time"]).rename(sample="time")
    return eofs(stacked, n=1, region="-30,30,120,290")["eof"].isel(mode=0)


def evaluate_ensemble(generated: xr.DataArray, truth: xr.DataArray, ideal: xr.DataArray) -> dict:
    """Scores of ``generated`` against ``truth`` next to those of ``ideal``.

    All three are ``(member, time, lat, lon)`` in K on one grid and period. CRPS
    (fair) and rank histograms score ``generated`` and ``ideal`` against each
    ``truth`` member; spread, ENSO and volcanic figures compare ``generated`` with
    ``truth`` and ``ideal`` together (:func:`~climviz.pipelines.ensemble_figures.enso_volcanic_figures`).
    """
    w = area_weights(truth)
    obs = truth.rename(member="obs")
    ref = xr.concat([truth, ideal], "member")
    crps_gen = float(crps_ensemble(generated, obs, dim=None, weights=w))
    crps_ideal = float(crps_ensemble(ideal, obs, dim=None, weights=w))
    ranks = rank_histogram(generated, obs, dim=None)
    ranks_ideal = rank_histogram(ideal, obs, dim=None)
    stats_gen, stats_ref = member_statistics(generated), member_statistics(ref)
    out = {
        "spread_ratio": float(spread_ratio(generated, ref, dim=None, weights=w)),
        "crps_estimator": "fair",
        "crps_generated_K": crps_gen,
        "crps_ideal_K": crps_ideal,
        "crps_over_ideal": crps_gen / crps_ideal,
        "rank_histogram": [int(v) for v in np.asarray(ranks.values).ravel()],
        "rank_histogram_ideal": [int(v) for v in np.asarray(ranks_ideal.values).ravel()],
        **enso_volcanic_figures(stats_gen, stats_ref),
        "enso_eof_pattern_correlation": float(
            pattern_correlation(_enso_eof(generated), _enso_eof(ref), abs=True)
        ),
    }
    for name, st in (("generated", stats_gen), ("true", stats_ref)):
        cov = st["autocov"].mean("member")
        out[f"nino34_acf_{name}"] = [round(float(v), 4) for v in (cov / cov.isel(lag=0)).values]
    return out


def check_targets(scores: dict) -> dict:
    """``{metric: True/False}`` for each target in :data:`TARGETS` present in ``scores``."""
    out = {}
    for key, (lo, hi) in TARGETS.items():
        if key in scores:
            v = scores[key]
            out[key] = bool((lo is None or v >= lo) and (hi is None or v <= hi))
    return out


def run_evaluation(
    generator,
    data,
    *,
    cond_member: int,
    truth_members: list[int],
    ideal_members: list[int],
    n_members: int,
    steps: int,
    modes=None,
    start=None,
    end=None,
    seed=0,
    sampler=DEFAULT_SAMPLER,
    out_dir=None,
    progress=None,
    n_resamples: int = N_RESAMPLES,
) -> dict:
    """Generate from ``cond_member`` of ``data`` with each mode and score it (see module doc).

    The perfect-generator ranges draw from all of ``ideal_members`` (``n_resamples`` draws;
    0 skips them)."""
    from climviz.data.loader import open_ensemble

    ens = open_ensemble(data, require_global=True)
    if start or end:
        ens = ens.sel(time=slice(start, end))
    cond = ens.sel(member=cond_member).load()
    truth = ens.sel(member=truth_members).load()
    pool = ens.sel(member=ideal_members).load()
    ideal = pool.isel(member=slice(0, n_members))
    result = {
        "data": str(data),
        "data_synthetic": str(ens.attrs.get("synthetic", "unknown")),
        "cond_member": cond_member,
        "truth_members": truth_members,
        "ideal_members": ideal_members[:n_members],
        "n_members": n_members,
        "steps": steps,
        "sampler": sampler,
        "period": [str(cond["time"].values[0]), str(cond["time"].values[-1])],
        "seed": seed,
        **vae_rmse(generator, truth),
        "modes": {},
    }
    if n_resamples:
        result["perfect_generator"] = perfect_generator_ranges(
            truth, pool, n_members, n_resamples=n_resamples, seed=seed
        )
    for mode in modes or generator.modes:
        t0 = time.time()
        request = GenerationRequest(n_members=n_members, steps=steps, mode=mode, seed=seed, sampler=sampler)
        gen = generator.generate(cond, request, progress=progress)
        scores = evaluate_ensemble(gen, truth, ideal)
        scores["generation_wall_s"] = round(time.time() - t0, 1)
        scores["targets_met"] = check_targets({**scores, **result})
        result["modes"][mode] = scores
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "ensemble_scores.json").write_text(json.dumps(result, indent=1))
    return result


def _band_target(key: str) -> str:
    lo, hi = TARGETS.get(key, (None, None))
    return f"{lo:g}-{hi:g}" if lo is not None else ""


def markdown_table(result: dict) -> str:
    """The README table: one row per figure, one column per mode, and the 2.5-97.5% range a
    perfect generator gets (when ``result`` has ``perfect_generator``)."""
    modes = list(result["modes"])
    ranges = result.get("perfect_generator", {}).get("ranges", {})
    rows = [
        ("VAE RMSE, global (K)", "vae_rmse_global_K", "<= 0.15", None),
        ("VAE RMSE, Nino3.4 (K)", "vae_rmse_nino34_K", "", None),
        ("VAE spread ratio (reconstructed / true, same members)", "vae_spread_ratio", "", None),
        ("spread ratio (generated / true)", "spread_ratio", "0.97-1.03", "m"),
        ("fair CRPS generated (K)", "crps_generated_K", "", "m"),
        ("fair CRPS ideal ensemble (K)", "crps_ideal_K", "", "m"),
        ("fair CRPS / ideal", "crps_over_ideal", "<= 1.05", "m"),
        ("Nino3.4 std ratio", "nino34_std_ratio", "0.85-1.18", "m"),
        (
            "Nino3.4 lag-1 autocorrelation, generated / true",
            ("nino34_lag1_autocorr_generated", "nino34_lag1_autocorr_true"),
            "",
            "m",
        ),
        ("Nino3.4 lag-1, generated - true (abs)", "nino34_lag1_abs_diff", "<= 0.03", "m"),
        ("Nino3.4 ACF RMSE, lags 1-36 months", "nino34_acf_rmse", "<= 0.11", "m"),
        *[
            (
                f"Nino3.4 variance {lo:g}-{hi:g} yr, generated / true",
                band_key(f"{lo:g}-{hi:g} yr"),
                _band_target(band_key(f"{lo:g}-{hi:g} yr")),
                "m",
            )
            for lo, hi in BANDS
        ],
        (
            "Nino3.4 peak period, generated / true (yr)",
            ("nino34_peak_period_generated_yr", "nino34_peak_period_true_yr"),
            "",
            "m",
        ),
        ("ENSO EOF-1 pattern correlation", "enso_eof_pattern_correlation", ">= 0.9", "m"),
        *[
            (
                f"{label} composite, generated / true (K)",
                (f"{key}_composite_generated_K", f"{key}_composite_true_K"),
                "diff <= 0.07" if key == "eruptions_mean" else "diff <= 0.12",
                "m",
            )
            for label, key in (
                ("Agung", "agung"),
                ("El Chichon", "el_chichon"),
                ("Pinatubo", "pinatubo"),
                ("Mean of the three", "eruptions_mean"),
            )
        ],
        ("generation wall time (s)", "generation_wall_s", "", "m"),
    ]

    def num(v: float) -> str:
        return f"{v:#.3g}".rstrip(".")

    def fmt(src: dict, key) -> str:
        if isinstance(key, tuple):
            if not all(k in src for k in key):
                return "n/a"
            return " / ".join(num(src[k]) for k in key)
        return num(src[key]) if key in src else "n/a"

    def perfect(key) -> str:
        r = ranges.get(key[0] if isinstance(key, tuple) else key)
        return f"{num(r[0])} to {num(r[1])}" if r else ""

    head = (
        "| metric | target | "
        + " | ".join(modes)
        + (" | perfect generator (2.5-97.5%) |" if ranges else " |")
    )
    lines = [head, "|---|---|" + "---|" * (len(modes) + bool(ranges))]
    for label, key, target, per_mode in rows:
        cells = [fmt(result["modes"][m], key) if per_mode else fmt(result, key) for m in modes]
        if ranges:
            cells.append(perfect(key))
        lines.append(f"| {label} | {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
