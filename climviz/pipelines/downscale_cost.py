"""Cost against quality for TAUDiff and the end-to-end baseline (issue: the speed-up at matched quality).

Each configuration (a method and its sampler steps) downscales the same test
frames; one run gives both its cost and its quality:

- cost: wall seconds per simulated day and per sample (mean model included for TAUDiff);
- quality: the fair CRPS of u against the truth (:func:`~climviz.diagnostics.scores.crps_ensemble`,
  area-weighted) and the share of degrees ``1 <= l < 0.8 L`` whose KE ratio to the
  truth lies in ``[0.8, 1.25]`` (as ``climviz evaluate downscale``), plus the flicker ratio of u.

:func:`matched_speedup` then takes, for each method, the cheapest configuration
that reaches one quality target (a KE share and a CRPS) and divides their costs.
A method that never reaches the target has no cheapest configuration, and then
there is no speed-up to report.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr

from climviz.data.grid import cell_area_weights
from climviz.diagnostics.scores import crps_ensemble
from climviz.diagnostics.spectra import ke_spectrum
from climviz.diagnostics.time_coherence import mean_squared_change
from climviz.requests import DownscaleRequest

KE_SHARE_TARGET = 0.9  # issue: KE ratio in [0.8, 1.25] for >= 90% of degrees up to 0.8 lmax


@dataclass(frozen=True)
class CostPoint:
    """One configuration's cost and quality."""

    method: str
    steps: int
    sampler: str
    seconds_per_day: float  # wall seconds per simulated day and per sample
    crps_u: float  # m/s, fair CRPS of u, area-weighted
    ke_share: float  # share of degrees 1 <= l < 0.8 L with KE ratio in [0.8, 1.25]
    flicker_u: float  # mean squared frame-to-frame change of u, sample / truth


def ke_share(u, v, truth_ke: np.ndarray, resolved: int) -> float:
    """Share of degrees ``1 <= l < 0.8 resolved`` where the sample-mean KE spectrum is within [0.8, 1.25] of the truth's."""
    from climviz.pipelines.downscale_eval import spectrum_ratio_stats

    red = [d for d in u.dims if d in ("time", "sample")]
    ke = ke_spectrum(u, v).mean(red).values
    return spectrum_ratio_stats(ke, truth_ke, resolved)["fraction_in_band"]


def measure(
    model,
    method: str,
    coarse: xr.Dataset,
    truth: xr.Dataset,
    steps: int,
    *,
    n_samples: int,
    sampler: str = "ddim",
    seed: int = 0,
) -> CostPoint:
    """Downscale ``coarse`` once with ``steps`` steps of ``sampler``; time it and score it against ``truth``."""
    resolved = int(min(truth.sizes["lat"], truth.attrs.get("solver_lmax", truth.sizes["lat"])))
    t0 = time.perf_counter()
    out = model.downscale(
        coarse, DownscaleRequest(n_samples=n_samples, steps=steps, seed=seed, sampler=sampler)
    )
    wall = time.perf_counter() - t0
    days = truth.sizes["time"] * _step_hours(truth) / 24.0
    w = xr.DataArray(cell_area_weights(truth["lat"].values), dims="lat", coords={"lat": truth["lat"]})
    truth_ke = ke_spectrum(truth["u"], truth["v"]).mean("time").values
    return CostPoint(
        method=method,
        steps=int(steps),
        sampler=sampler,
        seconds_per_day=wall / days / n_samples,
        crps_u=float(crps_ensemble(out["u"], truth["u"], member_dim="sample", weights=w)),
        ke_share=ke_share(out["u"], out["v"], truth_ke, resolved),
        flicker_u=float(mean_squared_change(out["u"]) / mean_squared_change(truth["u"])),
    )


def _step_hours(ds: xr.Dataset) -> float:
    from climviz.pipelines.wind_data import step_hours

    return step_hours(ds["time"]) or 6.0


def cheapest(points, method: str, ke_target: float, crps_target: float) -> CostPoint | None:
    """The lowest-cost ``method`` point with ``ke_share >= ke_target`` and ``crps_u <= crps_target``."""
    ok = [p for p in points if p.method == method and p.ke_share >= ke_target and p.crps_u <= crps_target]
    return min(ok, key=lambda p: p.seconds_per_day) if ok else None


def matched_target(points, methods=("TAUDiff", "baseline"), ke_target: float = KE_SHARE_TARGET) -> dict:
    """The strictest quality target every method reaches in at least one configuration.

    KE share: ``ke_target``, lowered to the smallest of the methods' best shares when
    one of them never reaches it. CRPS: the largest of the methods' best CRPS among
    their configurations that reach that share (so each method has at least one).
    """
    best_ke = {m: max(p.ke_share for p in points if p.method == m) for m in methods}
    ke = min(ke_target, *best_ke.values())
    crps = max(min(p.crps_u for p in points if p.method == m and p.ke_share >= ke) for m in methods)
    return {"ke_share": ke, "crps_u": crps, "ke_target_reached": ke >= ke_target, "best_ke_share": best_ke}


def matched_speedup(points, ke_target: float | None = None, crps_target: float | None = None) -> dict:
    """Cost of the cheapest baseline configuration over the cheapest TAUDiff one at one quality target.

    Targets default to :func:`matched_target`'s. ``speedup`` is None when either method
    never reaches the target.
    """
    auto = matched_target(points, ke_target=KE_SHARE_TARGET if ke_target is None else ke_target)
    ke = auto["ke_share"] if ke_target is None else ke_target
    crps = auto["crps_u"] if crps_target is None else crps_target
    td, base = cheapest(points, "TAUDiff", ke, crps), cheapest(points, "baseline", ke, crps)
    return {
        "target": {"ke_share": ke, "crps_u": crps},
        "ke_target_reached": auto["ke_target_reached"],
        "best_ke_share": auto["best_ke_share"],
        "TAUDiff": asdict(td) if td else None,
        "baseline": asdict(base) if base else None,
        "speedup": base.seconds_per_day / td.seconds_per_day if td and base else None,
    }


def write_figure(points, result: dict, path) -> None:
    """Two panels against seconds per simulated day (log): CRPS of u and the KE share, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for method, colour in (("TAUDiff", "C0"), ("baseline", "C3")):
        pts = sorted((p for p in points if p.method == method), key=lambda p: p.seconds_per_day)
        if not pts:
            continue
        x = [p.seconds_per_day for p in pts]
        for ax, y in zip(axes, ([p.crps_u for p in pts], [p.ke_share for p in pts])):
            ax.plot(x, y, "o-", color=colour, label=method)
            for p, xi, yi in zip(pts, x, y):
                ax.annotate(
                    f"{p.steps}{'' if p.sampler == 'ddim' else '+'}",
                    (xi, yi),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=8,
                )
        best = result.get(method)
        if best:
            axes[0].plot(best["seconds_per_day"], best["crps_u"], "*", ms=14, color=colour)
            axes[1].plot(best["seconds_per_day"], best["ke_share"], "*", ms=14, color=colour)
    t = result["target"]
    axes[0].axhline(t["crps_u"], color="0.5", ls="--", lw=1, label="matched target")
    axes[1].axhline(t["ke_share"], color="0.5", ls="--", lw=1)
    axes[0].set(xscale="log", xlabel="s per simulated day per sample", ylabel="fair CRPS of u (m/s)")
    axes[1].set(
        xscale="log",
        xlabel="s per simulated day per sample",
        ylabel="share of degrees with KE ratio in [0.8, 1.25]",
        ylim=(0, 1.02),
    )
    from matplotlib.ticker import NullFormatter

    for ax in axes:
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels 2x10^-1, 3x10^-1 ... overlap
    axes[0].legend()
    s = result["speedup"]
    fig.suptitle(
        "Cost against quality on synthetic toy wind"
        + (f": speed-up {s:.1f}x at matched quality" if s else ": no speed-up, a method misses the target")
        + "\nnumbers: sampler steps (+: DPM-Solver++, else DDIM); stars: cheapest at the matched target"
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
