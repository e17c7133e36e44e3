"""Evaluate TAUDiff (and the baseline) on the held-out end of a fine wind file.

Compared with the truth on the same held-out frames: bilinear and bicubic
interpolation of the coarse input, the mean model, TAUDiff samples and the
baseline samples. Scores (issue 4):

- kinetic-energy spectra by spherical-harmonic degree (:func:`ke_spectrum`) and
  by 2-D FFT of u over a mid-latitude box (:func:`fft_power_spectrum`); the ratio
  to the truth and the fraction of degrees ``1 <= l < 0.8 L`` where it lies
  within ``[0.8, 1.25]``, ``L`` the resolved degree: ``nlat``, or the toy wind's
  solver truncation ``attrs["solver_lmax"]`` when that is smaller (for the FFT
  spectrum, ``L`` is the number of wavenumbers);
- relative vorticity on the sphere (:func:`~climviz.diagnostics.vorticity.relative_vorticity`,
  spherical harmonics) and vortex counts: local maxima of ``|zeta|`` above
  ``k`` times the truth's vorticity std (3x3 neighbourhood, longitude wraps);
- temporal power spectra of u at grid points (every 4th point of the fine grid,
  Hann periodogram along time, averaged over points and samples) and their
  ratio to the truth's: over ``1 <= k < 0.8 N`` (``temporal_ratio_u``) and at every
  resolved frequency ``0 < f <= Nyquist`` with the share within ``[0.67, 1.5]``
  (``temporal_spectrum_ratio_u``);
- time coherence (:mod:`climviz.diagnostics.time_coherence`): the flicker ratio, the
  area-weighted mean squared change of u and of v between consecutive frames (6 h
  for the wind files) over the truth's, target ``[0.8, 1.25]``; and vortex-track
  continuity, the share of the counted vortex centres with a same-sign centre
  within ``track_km`` (500 km) one frame later, and its ratio to the truth's,
  target ``[0.9, 1.1]``;
- area-weighted RMSE of the vector wind and MAE of u, of each method's field (its
  mean over ``sample`` for TAUDiff and the baseline), and the fair CRPS of u of the
  samples (:func:`crps_ensemble` over ``sample``);
- wall time per stage.

With ``figures`` a directory, :mod:`climviz.pipelines.downscale_figures` draws
the spectra and vorticity snapshots there as PNGs.

:func:`markdown_table` turns the JSON report into the README table.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import xarray as xr

from climviz.data.grid import cell_area_weights
from climviz.diagnostics.scores import crps_ensemble
from climviz.diagnostics.spectra import fft_power_spectrum, ke_spectrum, temporal_power_spectrum
from climviz.diagnostics.time_coherence import MATCH_DISTANCE_KM, mean_squared_change, track_continuity
from climviz.diagnostics.vorticity import relative_vorticity, vortex_peaks
from climviz.requests import DownscaleRequest
from climviz.vocabulary import DEFAULT_BURN_IN, DEFAULT_NOISE_CORRELATION

SPECTRAL_BAND = (0.8, 1.25)
FLICKER_BAND = (0.8, 1.25)  # mean squared frame-to-frame change, method / truth
TEMPORAL_BAND = (0.67, 1.5)  # temporal power at each resolved frequency, method / truth
TRACK_BAND = (0.9, 1.1)  # vortex-track continuity, method / truth (within 10%)
BOX = (30.0, 60.0, 0.0, 90.0)  # lat_min, lat_max, lon_min, lon_max: a mid-latitude storm-track box


def vortex_count(zeta: xr.DataArray, threshold: float) -> float:
    """Mean number per field of local maxima of ``|zeta|`` (3x3, longitude periodic) above ``threshold``.

    The centres are :func:`~climviz.diagnostics.vorticity.vortex_peaks`, the same ones
    :func:`~climviz.diagnostics.time_coherence.track_continuity` tracks.
    """
    peaks = vortex_peaks(zeta, threshold)
    return float(peaks.sum(["lat", "lon"]).mean())


def _bicubic(coarse: xr.DataArray, lat, lon) -> xr.DataArray:
    """Cubic interpolation on (lat, lon) with a periodic longitude extension."""
    from scipy.interpolate import RegularGridInterpolator

    clat, clon = coarse["lat"].values, coarse["lon"].values
    ext_lon = np.concatenate([clon[-2:] - 360.0, clon, clon[:2] + 360.0])
    vals = coarse.transpose("time", "lat", "lon").values
    vals = np.concatenate([vals[..., -2:], vals, vals[..., :2]], axis=-1)
    la = np.clip(lat, clat[0], clat[-1])
    pts = np.stack(np.meshgrid(la, lon, indexing="ij"), axis=-1).reshape(-1, 2)
    out = np.stack(
        [
            RegularGridInterpolator((clat, ext_lon), f, method="cubic")(pts).reshape(len(lat), len(lon))
            for f in vals
        ]
    )
    return xr.DataArray(
        out.astype(np.float32),
        dims=("time", "lat", "lon"),
        coords={"time": coarse["time"], "lat": lat, "lon": lon},
    )


def point_temporal_spectrum(u: xr.DataArray, every: int = 4, samples_per_day: float = 4.0) -> xr.DataArray:
    """Mean temporal power spectrum of ``u (..., time, lat, lon)`` at every ``every``-th grid point.

    Hann periodogram along time, linear trend removed, frequency in cycles per day; averaged over
    the points and any other dimension (samples).
    """
    pts = u.isel(lat=slice(every // 2, None, every), lon=slice(0, None, every))
    psd = temporal_power_spectrum(pts, fs=samples_per_day, method="periodogram")
    return psd.mean([d for d in psd.dims if d != "frequency"])


def detail_energy_by_frame(u, v, mean_u, mean_v, truth_u, truth_v, weights) -> np.ndarray:
    """Per frame, the area-weighted energy of ``(u, v) - mean`` over that of ``truth - mean``
    (averaged over ``sample`` when present): how much of the truth's departure from the mean
    model a sample carries at each time. 1 everywhere for a perfect sampler; a sequential
    sampler that starts from nothing shows a ramp."""

    def energy(a, b):
        e = (a - mean_u) ** 2 + (b - mean_v) ** 2
        e = e.weighted(weights).mean(["lat", "lon"])
        return e.mean("sample") if "sample" in e.dims else e

    return (energy(u, v) / energy(truth_u, truth_v)).values


def spectrum_ratio_stats(spec: np.ndarray, truth: np.ndarray, resolved: int | None = None) -> dict:
    """Ratio to the truth over ``1 <= k < 0.8 * resolved`` (default: all returned wavenumbers)."""
    hi = max(2, int(0.8 * (resolved or truth.size)))
    r = spec[1:hi] / truth[1:hi]
    lo_b, hi_b = SPECTRAL_BAND
    return {
        "fraction_in_band": float(np.mean((r >= lo_b) & (r <= hi_b))),
        "min_ratio": float(r.min()),
        "max_ratio": float(r.max()),
        "ratio_at_0.8_lmax": float(r[-1]),
        "degrees": [1, hi - 1],
    }


def _all_frequency_ratio(spec: np.ndarray, truth: np.ndarray, freq: np.ndarray) -> dict:
    """Ratio to the truth at every resolved frequency ``0 < f <= Nyquist`` (the mean, f = 0, is detrended away)."""
    keep = freq > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = spec[keep] / truth[keep]
    ok = np.isfinite(r)
    lo, hi = TEMPORAL_BAND
    return {
        "frequency_per_day": freq[keep].tolist(),
        "ratio": [float(x) if f else None for x, f in zip(r, ok)],
        "min_ratio": float(r[ok].min()) if ok.any() else None,
        "max_ratio": float(r[ok].max()) if ok.any() else None,
        "fraction_in_band": float(np.mean((r >= lo) & (r <= hi))),
        "band": [lo, hi],
    }


def _finite(x: float) -> float | None:
    """``x``, or None where it is NaN or infinite (JSON has no NaN)."""
    return float(x) if np.isfinite(x) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _check_unseen(first_test, data, mean_dir, periods=("train_period", "val_period")) -> None:
    """Refuse an evaluation period that starts inside one of the ``periods`` the mean model
    recorded for the same data file (time stamps compared as ISO strings)."""
    from climviz.nn import checkpoint as ckpt

    cfg = ckpt.load_config(mean_dir)
    if cfg.get("data") != str(data):
        return
    for key in periods:
        period = cfg.get(key)
        if period and str(first_test) <= period[1]:
            raise ValueError(
                f"the evaluation period starts at {first_test}, inside the {key} {period} of "
                f"{mean_dir}: pass the test_days (--test-days) it was trained with"
            )


def evaluate_downscale(
    data,
    model_dir="models/taudiff",
    *,
    baseline_dir=None,
    n_samples: int = 4,
    steps: int = 20,
    baseline_steps: int | None = None,
    baseline_sampler: str | None = None,
    frames: int = 32,
    holdout: float = 0.2,
    test_days: float | None = None,
    val_days: float | None = None,
    period: str = "test",
    factor: int = 4,
    seed: int = 0,
    noise_correlation: float = DEFAULT_NOISE_CORRELATION,
    burn_in: int = DEFAULT_BURN_IN,
    vortex_k: float = 2.0,
    track_km: float = MATCH_DISTANCE_KM,
    progress=None,
    figures=None,
    device=None,
) -> dict:
    """Score the models on the first ``frames`` held-out steps of ``data``; returns a JSON-able dict.

    The held-out (test) period is the last ``test_days`` of ``data``, or the last ``holdout``
    fraction when ``test_days`` is None, as in :func:`~climviz.pipelines.wind_data.split_periods`.
    When ``data`` is the file the mean model was trained on (its ``config.json`` names it), a
    test period that reaches into the model's training or validation period is refused.
    ``period="validation"`` scores the ``val_days`` before the test period instead (for
    choosing sampling settings without looking at the test period); it must not reach into
    the training period.

    ``vortex_k``: vortex threshold in truth vorticity stds; ``track_km``: how far (great circle) a vortex
    may move between consecutive frames and still count as continued.
    ``figures``: a directory for PNG figures (KE spectra, temporal spectra, vorticity snapshots), or None.
    ``device``: where the models run (:func:`climviz.devices.resolve_device`; default auto).
    """
    from climviz.nn.wind_fields import make_upsample
    from climviz.pipelines.downscale import BaselineDownscaler, Downscaler
    from climviz.pipelines.wind_data import make_pairs, open_winds, split_wind_periods, step_hours

    td = Downscaler.from_checkpoint(model_dir, device)
    model_dir = Path(model_dir)
    bdir = Path(baseline_dir) if baseline_dir else model_dir.with_name(model_dir.name + "-baseline")
    base = BaselineDownscaler.from_checkpoint(bdir, device) if (bdir / "config.json").is_file() else None
    fine, coarse = make_pairs(open_winds(data).load(), factor)
    if period not in ("test", "validation"):
        raise ValueError(f"period must be 'test' or 'validation', got {period!r}")
    if period == "validation" and val_days is None:
        raise ValueError("scoring the validation period needs its length (val_days, --val-days)")
    split = split_wind_periods(fine, val_days=val_days, test_days=test_days, holdout=holdout)
    scored = split.test if period == "test" else split.val
    seen = ("train_period", "val_period") if period == "test" else ("train_period",)
    _check_unseen(fine["time"].values[scored][0], data, model_dir / "mean", seen)
    idx = np.arange(fine.sizes["time"])[scored][:frames]
    fine, coarse = fine.isel(time=idx), coarse.isel(time=idx)

    request = DownscaleRequest(
        n_samples=n_samples, steps=steps, seed=seed, noise_correlation=noise_correlation, burn_in=burn_in
    )
    out = td.downscale(coarse, request, progress=progress)
    fields = {"truth": (fine["u"], fine["v"])}
    up = make_upsample(td.grid)
    import torch

    with torch.no_grad():
        bil = {v: up(torch.from_numpy(coarse[v].values.astype(np.float32))).numpy() for v in ("u", "v")}
    like = fine["u"]
    fields["bilinear"] = tuple(like.copy(data=bil[v]) for v in ("u", "v"))
    fields["bicubic"] = tuple(_bicubic(coarse[v], fine["lat"].values, fine["lon"].values) for v in ("u", "v"))
    fields["mean model"] = (out["u_mean"], out["v_mean"])
    fields["TAUDiff"] = (out["u"], out["v"])
    timings = {
        "TAUDiff": {
            "mean_model_s": out.attrs["mean_model_s"],
            "diffusion_s": out.attrs["diffusion_s"],
            "steps": steps,
            "sampler": request.sampler,
        }
    }
    if base is not None:
        bsteps, bsampler = baseline_steps or steps, baseline_sampler or request.sampler
        bout = base.downscale(coarse, replace(request, steps=bsteps, sampler=bsampler), progress=progress)
        fields["baseline"] = (bout["u"], bout["v"])
        timings["baseline"] = {"diffusion_s": bout.attrs["diffusion_s"], "steps": bsteps, "sampler": bsampler}

    # the highest degree the data resolve: the solver's truncation for the toy wind, else the grid's
    resolved = int(min(fine.sizes["lat"], fine.attrs.get("solver_lmax", fine.sizes["lat"])))
    w = xr.DataArray(cell_area_weights(fine["lat"].values), dims="lat", coords={"lat": fine["lat"]})
    zeta_truth = relative_vorticity(*fields["truth"])
    thresh = vortex_k * float(zeta_truth.std())
    ke_truth = ke_spectrum(*fields["truth"]).mean("time").values
    fft_truth = fft_power_spectrum(fields["truth"][0], BOX).mean("time").values
    ts_truth = point_temporal_spectrum(fields["truth"][0])
    hours = step_hours(fine["time"])
    first = max(1, int(round(48 / hours))) if hours else 8  # the frames of the first two days
    report = {
        "data": str(data),
        "model_dir": str(model_dir),
        "baseline_dir": str(bdir) if base else None,
        "frames": int(len(idx)),
        "n_samples": int(n_samples),
        "noise_correlation": float(noise_correlation),
        "burn_in": int(burn_in),
        "period": period,
        "heldout_start": str(fine["time"].values[0]),
        "frame_step_hours": hours,
        "vortex_threshold_s-1": thresh,
        "track_match_km": float(track_km),
        "bands": {
            "ke_ratio": list(SPECTRAL_BAND),
            "flicker_ratio": list(FLICKER_BAND),
            "temporal_spectrum_ratio": list(TEMPORAL_BAND),
            "track_continuity_ratio": list(TRACK_BAND),
        },
        "resolved_degree": resolved,
        "timings": timings,
        "methods": {},
    }
    for name, (u, v) in fields.items():
        red = [d for d in u.dims if d in ("sample",)]
        ke = ke_spectrum(u, v).mean(["time", *red]).values
        fft = fft_power_spectrum(u, BOX).mean(["time", *red]).values
        zeta = relative_vorticity(u, v)
        ts = point_temporal_spectrum(u).values
        m = {
            "ke_spectrum": ke.tolist(),
            "ke_ratio": spectrum_ratio_stats(ke, ke_truth, resolved),
            "fft_ratio_u": spectrum_ratio_stats(fft, fft_truth) if fft.size > 2 else None,
            "temporal_spectrum_u": ts.tolist(),
            "temporal_ratio_u": spectrum_ratio_stats(ts, ts_truth.values) if ts.size > 2 else None,
            "temporal_spectrum_ratio_u": _all_frequency_ratio(
                ts, ts_truth.values, ts_truth["frequency"].values
            ),
            "vortex_count": vortex_count(zeta, thresh),
        }
        if len(idx) >= 2:  # time coherence needs a pair of frames
            m["track_continuity"] = _finite(track_continuity(zeta, thresh, max_km=track_km))
            m["mean_sq_change_u"] = float(mean_squared_change(u))
            m["mean_sq_change_v"] = float(mean_squared_change(v))
        detail = detail_energy_by_frame(u, v, out["u_mean"], out["v_mean"], *fields["truth"], w)
        m["detail_energy_by_frame"] = [round(float(x), 4) for x in detail]
        m["detail_energy_first_2_days"] = float(np.mean(detail[:first]))
        m["detail_energy_after_2_days"] = float(np.mean(detail[first:])) if len(detail) > first else None
        mean_u = u.mean("sample") if "sample" in u.dims else u
        mean_v = v.mean("sample") if "sample" in v.dims else v
        err2 = (mean_u - fields["truth"][0]) ** 2 + (mean_v - fields["truth"][1]) ** 2
        m["rmse_vector"] = float(np.sqrt(err2.weighted(w).mean()))
        m["mae_u"] = float(abs(mean_u - fields["truth"][0]).weighted(w).mean())
        if "sample" in u.dims:
            m["crps_u"] = float(crps_ensemble(u, fields["truth"][0], member_dim="sample", weights=w))
        report["methods"][name] = m
    n_truth = report["methods"]["truth"]["vortex_count"]
    truth = report["methods"]["truth"]
    for m in report["methods"].values():
        m["vortex_ratio"] = m["vortex_count"] / n_truth if n_truth else None
        for key, ratio in [
            ("mean_sq_change_u", "flicker_ratio_u"),
            ("mean_sq_change_v", "flicker_ratio_v"),
            ("track_continuity", "track_continuity_ratio"),
        ]:
            m[ratio] = _ratio(m.get(key), truth.get(key))
    report["ke_degree"] = list(range(len(ke_truth)))
    report["temporal_frequency_per_day"] = ts_truth["frequency"].values.tolist()
    if figures is not None:
        from climviz.pipelines.downscale_figures import write_figures

        report["figures"] = [str(p) for p in write_figures(report, fields, figures)]
    return report


def markdown_table(report: dict) -> str:
    """One row per method: KE-spectrum ratio band, temporal-spectrum ratio band, flicker ratio,
    vortex ratio, vortex-track continuity, RMSE, MAE, CRPS; each target band in its column label."""
    lo, hi = SPECTRAL_BAND
    flo, fhi = FLICKER_BAND
    tlo, thi = TEMPORAL_BAND
    klo, khi = TRACK_BAND
    km = report.get("track_match_km", MATCH_DISTANCE_KM)
    step = report.get("frame_step_hours")
    step = f"{step:g} h" if step else "one frame"
    lines = [
        f"| method | KE ratio in [{lo}, {hi}] (l < 0.8 lmax) | KE ratio at 0.8 lmax | temporal spectrum "
        f"ratio in [{tlo}, {thi}] (all f > 0), range | flicker ratio u, v, target [{flo}, {fhi}] | "
        f"vortex count / truth | vortices continued within {km:g} km after {step} (/ truth, target "
        f"[{klo}, {khi}]) | detail energy / truth's, first 2 days, later | RMSE (m/s) | MAE u (m/s) | "
        "CRPS u (m/s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def num(x, fmt=".2f"):
        return "-" if x is None else format(x, fmt)

    for name, m in report["methods"].items():
        kr = m["ke_ratio"]
        crps = f"{m['crps_u']:.3f}" if "crps_u" in m else "-"
        vr = num(m.get("vortex_ratio"))
        tr = m.get("temporal_spectrum_ratio_u")
        trs = f"{tr['fraction_in_band']:.0%} ({num(tr['min_ratio'])}-{num(tr['max_ratio'])})" if tr else "-"
        fl = f"{num(m.get('flicker_ratio_u'))}, {num(m.get('flicker_ratio_v'))}"
        tc = f"{num(m.get('track_continuity'), '.0%')} ({num(m.get('track_continuity_ratio'))})"
        de = f"{num(m.get('detail_energy_first_2_days'))}, {num(m.get('detail_energy_after_2_days'))}"
        lines.append(
            f"| {name} | {kr['fraction_in_band']:.0%} | {kr['ratio_at_0.8_lmax']:.2f} | {trs} | {fl} | {vr} | "
            f"{tc} | {de} | {m['rmse_vector']:.3f} | {m['mae_u']:.3f} | {crps} |"
        )
    t = report["timings"]
    lines.append("")
    lines.append(
        f"TAUDiff: mean model {t['TAUDiff']['mean_model_s']:.2f} s + diffusion {t['TAUDiff']['diffusion_s']:.2f} s "
        f"({t['TAUDiff']['steps']} steps, {t['TAUDiff'].get('sampler', '?')}) for {report['frames']} frames x "
        f"{report['n_samples']} samples"
        + (
            f"; baseline {t['baseline']['diffusion_s']:.2f} s ({t['baseline']['steps']} steps, "
            f"{t['baseline'].get('sampler', '?')})"
            if "baseline" in t
            else ""
        )
    )
    return "\n".join(lines)
