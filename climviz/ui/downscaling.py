"""State of the downscaling tab (Param only: no Panel import here).

:class:`Downscaling` makes a synthetic wind case on the downscaler's fine grid
(a fresh shallow-water run, never seen in training), coarsens it as in
training, and runs TAUDiff and the end-to-end diffusion baseline on the same
coarse frames in a background :class:`~climviz.ui.jobs.Job`. Views read the
fields of one frame in a region, relative vorticity, kinetic-energy spectra and
per-stage wall times.
"""

from __future__ import annotations

import numpy as np
import param
import xarray as xr

from climviz.diagnostics.spectra import ke_spectrum
from climviz.requests import DownscaleRequest
from climviz.ui.jobs import env_cap
from climviz.ui.point_inspect import GridPoint, WindPoint, inspect_wind_point, nearest_point
from climviz.ui.region_choice import RegionChoice
from climviz.ui.sources import wind_case
from climviz.ui.task import BackgroundTask
from climviz.vocabulary import (
    DEFAULT_DOWNSCALE_SAMPLER,
    DEFAULT_DOWNSCALE_STEPS,
    DEFAULT_NOISE_CORRELATION,
    SAMPLER_NAMES,
)

CASES = {"Case A (seed 101)": 101, "Case B (seed 202)": 202, "Case C (seed 303)": 303}
MAX_WORK_ENV = "CLIMVIZ_MAX_DOWNSCALE_WORK"
DEFAULT_MAX_WORK = 4000  # samples x frames x steps per request
INTERVAL_HOURS = 6.0
COST_QUALITY_FILE = "cost_quality.json"


def max_work() -> int:
    """The per-request cap on samples x frames x steps (x 2 with the baseline), ``$CLIMVIZ_MAX_DOWNSCALE_WORK``."""
    return env_cap(MAX_WORK_ENV, DEFAULT_MAX_WORK)


class Downscaling(RegionChoice, BackgroundTask):
    """Downscale one synthetic case with TAUDiff and the baseline; derive what the views show.

    ``taudiff`` / ``baseline`` are loaded downscalers or ``None`` (``note`` says why).
    ``spinup_days`` of the case simulation (10 in the app; tests use less).
    """

    case = param.Selector(default=next(iter(CASES)), objects=list(CASES), doc="Synthetic case (a fresh run)")
    frames = param.Integer(default=8, bounds=(1, 64), doc="6-hourly frames to downscale")
    n_samples = param.Integer(default=2, bounds=(1, 8), doc="TAUDiff samples")
    steps = param.Integer(default=DEFAULT_DOWNSCALE_STEPS, bounds=(1, 200), doc="Sampler steps")
    sampler = param.Selector(default=DEFAULT_DOWNSCALE_SAMPLER, objects=list(SAMPLER_NAMES), doc="Sampler")
    noise_correlation = param.Number(
        default=DEFAULT_NOISE_CORRELATION,
        bounds=(0.0, 0.95),
        step=0.05,
        label="Noise correlation in time",
        doc="Correlation of each sample's initial noise from one 6-hourly frame to the next; "
        "0 draws every frame afresh (fine scales flicker)",
    )
    seed = param.Integer(default=0, bounds=(0, None), doc="Seed")
    run_baseline = param.Boolean(default=True, doc="Also run the end-to-end diffusion baseline (for timings)")
    time = param.Integer(default=0, bounds=(0, None), doc="Frame shown")
    box = param.String(default="20,70,280,360")  # the North Atlantic storm track
    point_lon = param.Number(default=None, allow_None=True, doc="Inspected point: longitude (degrees east)")
    point_lat = param.Number(default=None, allow_None=True, bounds=(-90, 90), doc="Inspected point: latitude")

    result = param.Dict(
        default=None,
        allow_None=True,
        precedence=-1,
        doc="fine, coarse, taudiff, baseline Datasets and ke spectra",
    )
    task_name = "Downscaling"

    def __init__(self, taudiff=None, baseline=None, note: str = "", *, spinup_days: float = 10.0, **params):
        super().__init__(**params)
        self.taudiff, self.baseline, self.note = taudiff, baseline, note
        self.spinup_days = float(spinup_days)

    @property
    def available(self) -> bool:
        return self.taudiff is not None

    def device_text(self) -> str:
        if self.taudiff is None:
            return "no TAUDiff downscaler loaded"
        t = self.taudiff
        base = f"; baseline `{self.baseline.source}`" if self.baseline is not None else "; no baseline"
        return (
            f"device **{t.device}**, checkpoint `{t.source}` ({len(t.coarse_lat)}x{len(t.coarse_lon)} -> "
            f"{len(t.lat)}x{len(t.lon)}){base}"
        )

    def fine_grid(self) -> tuple[int, int]:
        return (len(self.taudiff.lat), len(self.taudiff.lon))

    def factor(self) -> int:
        return int(round(len(self.taudiff.lat) / len(self.taudiff.coarse_lat)))

    def work(self) -> int:
        runs = 2 if (self.run_baseline and self.baseline is not None) else 1
        return int(self.n_samples) * int(self.frames) * int(self.steps) * runs

    def check_request(self) -> str:
        if self.taudiff is None:
            return self.note or "No downscaler is loaded."
        w, cap = self.work(), max_work()
        if w > cap:
            return (
                f"This request is {self.n_samples} samples x {self.frames} frames x {self.steps} steps"
                f"{' x 2 models' if self.work() > self.n_samples * self.frames * self.steps else ''} = {w:,}, "
                f"over this server's cap of {cap:,} (${MAX_WORK_ENV}). Ask for less."
            )
        return ""

    # ------------------------------------------------------------ running
    def start(self) -> bool:
        """Start downscaling in a background thread; False (with ``error`` set) when refused."""
        if self._refuse():
            return False
        req = dict(
            seed=CASES[self.case],
            frames=int(self.frames),
            n_samples=int(self.n_samples),
            steps=int(self.steps),
            sampler=self.sampler,
            noise_correlation=float(self.noise_correlation),
            sample_seed=int(self.seed),
            baseline=bool(self.run_baseline and self.baseline is not None),
        )
        return self._launch(
            lambda report: self._compute(req, report),
            f"Simulating {self.case} and downscaling {self.frames} frames...",
        )

    def _finish(self, job) -> None:
        res = job.result
        n = res["fine"].sizes["time"]
        self.param.time.bounds = (0, n - 1)
        with param.parameterized.batch_call_watchers(self):
            self.time = min(self.time, n - 1)
            self.result = res
            self.running = False
            self.progress = 1.0
            t = res["taudiff"].attrs
            self.status = (
                f"Downscaled {n} frames x {t['n_samples']} samples in {job.elapsed:.1f} s "
                f"({t['sampler']}, {t['steps']} steps, noise correlation {t['noise_correlation']:g})."
            )

    def run(self, timeout: float | None = None) -> dict | None:
        """Start, wait and poll (tests, notebooks). Returns ``result``."""
        return self.result if self.run_and_wait(timeout) else None

    def _compute(self, req: dict, report) -> dict:
        from climviz.data.coarsen import coarsen

        phases = 2 if req["baseline"] else 1

        def phase(k):
            return lambda done, total: report(int(1000 * (k + done / max(1, total)) / phases), 1000)

        days = req["frames"] * INTERVAL_HOURS / 24.0
        fine = wind_case(self.fine_grid(), days, req["seed"], self.spinup_days)[["u", "v"]]
        report(0, 1000)
        coarse = coarsen(fine, self.factor())
        request = DownscaleRequest(
            n_samples=req["n_samples"],
            steps=req["steps"],
            seed=req["sample_seed"],
            sampler=req["sampler"],
            noise_correlation=req["noise_correlation"],
        )
        td = self.taudiff.downscale(coarse, request, progress=phase(0))
        base = self.baseline.downscale(coarse, request, progress=phase(1)) if req["baseline"] else None
        out = {"fine": fine, "coarse": coarse, "taudiff": td, "baseline": base}
        out["ke"] = self._spectra(out)
        return out

    @staticmethod
    def _spectra(res: dict) -> dict[str, xr.DataArray]:
        """Time- (and sample-) mean kinetic-energy spectra by spherical-harmonic degree."""

        def ke(u, v):
            s = ke_spectrum(u, v)
            return s.mean([d for d in s.dims if d != "degree"])

        out = {
            "truth": ke(res["fine"]["u"], res["fine"]["v"]),
            "coarse input": ke(res["coarse"]["u"], res["coarse"]["v"]),
            "mean model": ke(res["taudiff"]["u_mean"], res["taudiff"]["v_mean"]),
            "TAUDiff samples": ke(res["taudiff"]["u"], res["taudiff"]["v"]),
        }
        if res["baseline"] is not None:
            out["baseline samples"] = ke(res["baseline"]["u"], res["baseline"]["v"])
        return out

    # ------------------------------------------------------------ derived for the views
    def frame_fields(self) -> dict[str, tuple[xr.DataArray, xr.DataArray]]:
        """``(u, v)`` ``(lat, lon)`` of frame ``time`` for coarse input, mean model, samples, baseline, truth."""
        r = self.result
        if r is None:
            return {}
        t = int(min(self.time, r["fine"].sizes["time"] - 1))
        out = {
            "coarse input": (r["coarse"]["u"].isel(time=t), r["coarse"]["v"].isel(time=t)),
            "mean model": (r["taudiff"]["u_mean"].isel(time=t), r["taudiff"]["v_mean"].isel(time=t)),
        }
        for k in range(r["taudiff"].sizes["sample"]):
            out[f"TAUDiff sample {k + 1}"] = (
                r["taudiff"]["u"].isel(time=t, sample=k),
                r["taudiff"]["v"].isel(time=t, sample=k),
            )
        if r["baseline"] is not None:
            out["baseline sample 1"] = (
                r["baseline"]["u"].isel(time=t, sample=0),
                r["baseline"]["v"].isel(time=t, sample=0),
            )
        out["truth"] = (r["fine"]["u"].isel(time=t), r["fine"]["v"].isel(time=t))
        return out

    def vorticity(self) -> dict[str, xr.DataArray]:
        """Relative vorticity ``(lat, lon)`` (1e-5 s-1) of each field of :meth:`frame_fields`."""
        from climviz.diagnostics.vorticity import relative_vorticity

        out = {}
        for name, (u, v) in self.frame_fields().items():
            z = (
                relative_vorticity(
                    u.drop_vars(["time", "sample"], errors="ignore"),
                    v.drop_vars(["time", "sample"], errors="ignore"),
                )
                * 1e5
            )
            out[name] = z.assign_attrs(long_name="relative vorticity", units="1e-5 s-1")
        return out

    def time_label(self) -> str:
        if self.result is None:
            return ""
        t = self.result["fine"]["time"].values[int(min(self.time, self.result["fine"].sizes["time"] - 1))]
        return f"{t.year}-{t.month:02d}-{t.day:02d} {t.hour:02d}:00"

    def point(self) -> GridPoint | None:
        """The fine-grid point nearest ``(point_lon, point_lat)`` (None when none is chosen)."""
        if self.point_lon is None or self.point_lat is None or self.taudiff is None:
            return None
        lat, lon = self.taudiff.lat, self.taudiff.lon
        return nearest_point(np.asarray(lat), np.asarray(lon), float(self.point_lon), float(self.point_lat))

    def wind_point(self) -> WindPoint | None:
        """Wind speed at :meth:`point` through the frames: each TAUDiff sample, the mean model and
        the truth (None before a result or without a point)."""
        point = self.point()
        if self.result is None or point is None:
            return None
        return inspect_wind_point(self.result["taudiff"], self.result["fine"], point)

    def speed_top(self) -> float:
        """One upper end of the wind-speed colour scale for every frame and map of the result
        (99.5th percentile of the truth's and the samples' speed), so frames played in turn compare."""
        r = self.result
        if r is None:
            return 1.0
        td, fine = r["taudiff"], r["fine"]
        speeds = [np.hypot(fine["u"].values, fine["v"].values), np.hypot(td["u"].values, td["v"].values)]
        return float(max(np.nanpercentile(s, 99.5) for s in speeds))

    def timings(self) -> list[dict]:
        """Per-stage wall seconds of TAUDiff and the baseline for this run."""
        r = self.result
        if r is None:
            return []
        t = r["taudiff"].attrs
        rows = [
            {"model": "TAUDiff", "stage": "mean model", "seconds": float(t["mean_model_s"])},
            {"model": "TAUDiff", "stage": "diffusion", "seconds": float(t["diffusion_s"])},
        ]
        if r["baseline"] is not None:
            rows.append(
                {
                    "model": "baseline",
                    "stage": "diffusion",
                    "seconds": float(r["baseline"].attrs["diffusion_s"]),
                }
            )
        return rows

    def cost_quality(self) -> dict | None:
        """The measured cost-quality curve shipped beside the TAUDiff checkpoint
        (``<checkpoint>/cost_quality.json``, written by ``bench/bench_downscale_quality.py -o``), or None."""
        return read_cost_quality(self.taudiff.source) if self.taudiff is not None else None


def read_cost_quality(model_dir) -> dict | None:
    """``{"points": [...], "result": {...}}`` from ``model_dir/cost_quality.json``; None when absent or unreadable."""
    import json
    from pathlib import Path

    path = Path(model_dir) / COST_QUALITY_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "points" in data and "result" in data else None


def wind_speed(u: xr.DataArray, v: xr.DataArray) -> xr.DataArray:
    return np.hypot(u, v).assign_attrs(long_name="wind speed", units="m s-1")
