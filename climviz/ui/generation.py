"""State of the ensemble-generator tab (Param only: no Panel import here).

:class:`EnsembleGeneration` holds what the user asked for (conditioning run,
ensemble size, sampler, steps, sequence mode, period, region, seed), runs the
generator in a background :class:`~climviz.ui.jobs.Job`, and derives every
number the views draw (maps, regional means, Nino3.4, EOFs, scores) from the
result. Each browser session makes its own instance, so results are per session.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import param
import xarray as xr

from climviz.data.forcing import ERUPTIONS
from climviz.data.regions import REGIONS, get_region
from climviz.diagnostics import (
    area_mean,
    area_weights,
    crps_ensemble,
    rank_histogram,
    spread_ratio,
)
from climviz.requests import GenerationRequest
from climviz.ui.cluster import (
    DASK_MAX_WORK_ENV,
    MAX_CLUSTER_MEMBERS,
    cluster_max_work,
    dask_scheduler,
    generate_on_cluster,
    min_cluster_members,
)
from climviz.ui.ensemble_analysis import diagnose
from climviz.ui.jobs import env_cap
from climviz.ui.sources import (
    APP_GRID,
    APP_SEED,
    N_EMBEDDED,
    embedded_climatology,
    embedded_members,
    train_members,
)
from climviz.ui.task import BackgroundTask
from climviz.ui.upload import UploadError, read_conditioning_upload
from climviz.vocabulary import DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLER_NAMES

CUSTOM = "Custom box"
MAX_WORK_ENV = "CLIMVIZ_MAX_WORK"
DEFAULT_MAX_WORK = 250_000  # members x months x sampler steps per request
EMBEDDED, UPLOAD = "embedded member", "uploaded file"


MAX_MEMBERS = 50


def max_work() -> int:
    """The per-request cap on members x months x steps (``$CLIMVIZ_MAX_WORK``)."""
    return env_cap(MAX_WORK_ENV, DEFAULT_MAX_WORK)


def decimal_year(time: xr.DataArray) -> np.ndarray:
    """cftime monthly stamps -> decimal years (for plotting)."""
    return np.array([t.year + (t.month - 0.5) / 12 for t in np.asarray(time.values)])


def month_anomaly(field: xr.DataArray, clim: xr.DataArray, month: int) -> xr.DataArray:
    """``field (lat, lon)`` minus the climatology of calendar ``month`` (1..12)."""
    return field - clim.sel(month=month, drop=True)


def conditioning_run(
    source: str,
    member: int,
    start_year: int,
    end_year: int,
    grid: tuple[int, int],
    upload: xr.DataArray | None,
) -> xr.DataArray:
    """The conditioning run ``(time, lat, lon)`` in K: embedded ``member`` or the ``upload``, in the years."""
    if source == UPLOAD:
        if upload is None:
            raise ValueError("upload a NetCDF file first (or choose an embedded member)")
        years = upload["time"].dt.year
        run = upload.sel(time=(years >= start_year) & (years <= end_year))
        if run.sizes["time"] == 0:
            raise ValueError(f"the uploaded run has no months in {start_year}-{end_year}")
        return run
    run = embedded_members((member,), start_year, end_year, grid, APP_SEED).isel(member=0, drop=True)
    return run.assign_attrs(
        source_description=f"embedded synthetic ensemble (seed {APP_SEED}), member {member}"
    )


class EnsembleGeneration(BackgroundTask):
    """Ask for a generated ensemble and derive what the views show.

    ``generator`` is an :class:`~climviz.pipelines.ensemble.EnsembleGenerator` (or ``None``:
    ``note`` says why, and everything that needs it is refused politely).
    """

    # ------------------------------------------------------------ the request
    cond_source = param.Selector(default=EMBEDDED, objects=[EMBEDDED, UPLOAD], doc="Conditioning run")
    cond_member = param.Integer(
        default=25,
        bounds=(0, N_EMBEDDED - 1),
        doc="Embedded member used as the conditioning run (25-29 are held out of training)",
    )
    n_members = param.Integer(default=5, bounds=(2, MAX_MEMBERS), doc="Members to generate")
    sampler = param.Selector(default=DEFAULT_SAMPLER, objects=list(SAMPLER_NAMES), doc="Sampler")
    steps = param.Integer(default=DEFAULT_STEPS, bounds=(1, 200), doc="Sampler steps")
    mode = param.Selector(
        default="transformer", objects=["transformer", "autoregressive"], doc="Sequence mode"
    )
    start_year = param.Integer(default=1980, bounds=(1850, 2005), doc="First year")
    end_year = param.Integer(default=1999, bounds=(1850, 2005), doc="Last year")
    seed = param.Integer(default=0, bounds=(0, None), doc="Seed (same seed, same ensemble)")

    # ------------------------------------------------------------ what is looked at
    region = param.Selector(default="Global", objects=[*REGIONS, CUSTOM], doc="Region")
    box = param.String(default="-10,10,160,260", doc="Custom box: lat_min,lat_max,lon_min,lon_max")
    month = param.Integer(default=0, bounds=(0, None), doc="Month shown on the maps (index in the period)")
    shown_member = param.Integer(default=0, bounds=(0, None), doc="Generated member shown on the map")
    truth_member = param.Integer(
        default=26, bounds=(0, N_EMBEDDED - 1), doc="Held-out true member for comparison and scores"
    )
    n_reference = param.Integer(
        default=15,
        bounds=(3, N_EMBEDDED - 1),
        doc="Size of the true reference ensemble (the last members of the embedded ensemble)",
    )
    smoothing = param.Integer(default=1, bounds=(1, 36), doc="Running mean of the time series (months)")
    denoise_step = param.Integer(default=0, bounds=(0, None), doc="Sampler step shown in the denoising view")

    # ------------------------------------------------------------ outputs (set by the state, read by views)
    result = param.Parameter(
        default=None, precedence=-1, doc="Generated ensemble tas (member, time, lat, lon)"
    )
    version = param.Integer(
        default=0, precedence=-1, doc="Incremented with each new result (views listen to it)"
    )
    analysis = param.Dict(default={}, precedence=-1, doc="Diagnostics computed once per result")
    denoise = param.List(default=[], precedence=-1, doc="Denoising frames: dicts step, n_steps, field")
    upload_note = param.String(default="", precedence=-1)

    def __init__(self, generator=None, note: str = "", **params):
        super().__init__(**params)
        self.generator, self.note = generator, note
        self._upload: xr.DataArray | None = None
        self._result_cond: xr.DataArray | None = None  # the conditioning run of ``result``
        self._result_truth = True  # whether ``result`` came from an embedded member
        self._clim: tuple = (None, None)  # (conditioning run, its climatology)
        if generator is not None:
            self.param.mode.objects = list(generator.modes)
            if self.mode not in generator.modes:
                self.mode = generator.modes[0]
            self._train = set(train_members(generator))
            y0, y1 = self.model_years()
            for name in ("start_year", "end_year"):
                self.param[name].bounds = (y0, y1)
            if not (y0 <= self.start_year <= self.end_year <= y1):  # keep the default period short
                self.start_year = max(y0, min(self.start_year, y1))
                self.end_year = min(y1, max(self.start_year + 19, self.start_year))
                if self.start_year + 19 > y1:
                    self.start_year = max(y0, y1 - 19)
                    self.end_year = y1
        else:
            self._train = set(range(25))
        if self.cluster_available:  # a cluster takes larger ensembles than this server alone
            self.param.n_members.bounds = (2, MAX_CLUSTER_MEMBERS)

    # ------------------------------------------------------------ basics
    @property
    def available(self) -> bool:
        return self.generator is not None

    @property
    def grid(self) -> tuple[int, int]:
        if self.generator is None:
            return APP_GRID
        return (len(self.generator.lat), len(self.generator.lon))

    @property
    def cluster_available(self) -> bool:
        """A Dask scheduler is configured and the generator was loaded from a checkpoint directory
        (the workers load it from there)."""
        return bool(dask_scheduler()) and self.generator is not None and Path(self.generator.source).is_dir()

    def uses_cluster(self) -> bool:
        """Whether the current request is handed to the Dask scheduler."""
        return self.cluster_available and self.n_members >= min_cluster_members()

    def work_cap(self) -> int:
        """The cap on members x months x steps for the current request (larger on a cluster:
        ``$CLIMVIZ_DASK_MAX_WORK``, default 10x ``$CLIMVIZ_MAX_WORK``)."""
        return cluster_max_work(max_work()) if self.uses_cluster() else max_work()

    def model_years(self) -> tuple[int, int]:
        """Whole years inside the span every diffusion model was trained on (generation is refused outside)."""
        y0, y1 = self.generator.trained_years()  # +-inf: the model is not bound to a period
        lo = int(np.ceil(y0)) if np.isfinite(y0) else 1850
        hi = int(np.floor(y1 - 1e-6)) if np.isfinite(y1) else 2005
        return max(1850, lo), min(2005, hi)

    def device_text(self) -> str:
        if self.generator is None:
            return "no ensemble generator loaded"
        g = self.generator
        text = (
            f"device **{g.device}**, checkpoint `{g.source}` ({', '.join(g.modes)}; "
            f"{self.grid[0]}x{self.grid[1]} grid)"
        )
        if self.cluster_available:
            text += (
                f"; requests of {min_cluster_members()} members or more go to the Dask scheduler "
                f"`{dask_scheduler()}`"
            )
        return text

    def selection(self):
        """The :class:`~climviz.data.regions.Region` chosen (list or box)."""
        return get_region(self.box if self.region == CUSTOM else self.region)

    def set_box(self, lon0: float, lat0: float, lon1: float, lat1: float) -> None:
        """Set a custom region from a box drawn on the map (degrees east, any convention)."""
        lat_min, lat_max = sorted((max(-90.0, lat0), min(90.0, lat1)))
        if lat_max - lat_min < 1e-6 or abs(lon1 - lon0) < 1e-6:
            return
        lo, hi = lon0 % 360.0, lon1 % 360.0
        self.box = f"{lat_min:.1f},{lat_max:.1f},{lo:.1f},{hi:.1f}"
        self.region = CUSTOM

    # ------------------------------------------------------------ conditioning run
    def load_upload(self, data: bytes, filename: str = "upload.nc") -> bool:
        """Read an uploaded NetCDF through the common loader; True when usable as conditioning run.

        On failure ``upload_note`` says why in plain words and the previous choice stays.
        """
        g = self.generator
        try:
            run, (lo, hi), note = read_conditioning_upload(
                data,
                filename,
                grid=None if g is None else (g.lat, g.lon),
                years=None if g is None else self.model_years(),
            )
        except UploadError as err:
            self.upload_note = str(err)
            return False
        self._upload = run
        self.param.update(start_year=lo, end_year=hi, cond_source=UPLOAD)
        self.upload_note = note
        return True

    @property
    def has_truth(self) -> bool:
        return self.cond_source == EMBEDDED

    def conditioning(self) -> xr.DataArray:
        """The conditioning run ``(time, lat, lon)`` in K for the chosen period."""
        return conditioning_run(
            self.cond_source,
            int(self.cond_member),
            int(self.start_year),
            int(self.end_year),
            self.grid,
            self._upload,
        )

    def shown_conditioning(self) -> xr.DataArray:
        """The conditioning run of the shown result (the current choice before any result)."""
        return self._result_cond if self.result is not None else self.conditioning()

    def _period(self) -> tuple[int, int]:
        cond = self._result_cond if self.result is not None else None
        if cond is None:
            return int(self.start_year), int(self.end_year)
        years = cond["time"].dt.year.values
        return int(years.min()), int(years.max())

    def reference_members(self) -> list[int]:
        """True members used as the reference ensemble: the last ``n_reference`` + 1 of the embedded
        ensemble, minus the conditioning run and the shown truth member."""
        ks = [
            k
            for k in range(N_EMBEDDED - self.n_reference - 2, N_EMBEDDED)
            if k not in (self.cond_member, self.truth_member)
        ]
        return ks[-self.n_reference :]

    def reference(self) -> xr.DataArray | None:
        """The true reference ensemble ``(member, time, lat, lon)`` for the period (None for an upload)."""
        if not self._truth_available():
            return None
        return embedded_members(tuple(self.reference_members()), *self._period(), self.grid, APP_SEED)

    def truth(self) -> xr.DataArray | None:
        """One held-out true member ``(time, lat, lon)`` (None for an upload)."""
        if not self._truth_available():
            return None
        return embedded_members((int(self.truth_member),), *self._period(), self.grid, APP_SEED).isel(
            member=0, drop=True
        )

    def _truth_available(self) -> bool:
        return self._result_truth if self.result is not None else self.has_truth

    def truth_is_held_out(self) -> bool:
        return self.truth_member not in self._train

    # ------------------------------------------------------------ limits
    def n_months(self) -> int:
        if self.cond_source == UPLOAD and self._upload is not None:
            y = self._upload["time"].dt.year
            return int(((y >= self.start_year) & (y <= self.end_year)).sum())
        return 12 * max(0, self.end_year - self.start_year + 1)

    def work(self) -> int:
        """members x months x sampler steps of the current request."""
        return int(self.n_members) * self.n_months() * int(self.steps)

    def check_request(self) -> str:
        """Why the current request cannot run ('' when it can)."""
        if self.generator is None:
            return self.note or "No ensemble generator is loaded."
        if self.end_year < self.start_year:
            return f"The period {self.start_year}-{self.end_year} is empty: the last year comes before the first."
        y0, y1 = self.model_years()
        if self.start_year < y0 or self.end_year > y1:
            return (
                f"The period {self.start_year}-{self.end_year} is outside the years this model was trained on "
                f"({y0}-{y1}); it cannot generate there."
            )
        if self.cond_source == UPLOAD and self._upload is None:
            return "Upload a NetCDF file first, or choose an embedded member as conditioning run."
        if self.n_months() == 0:
            return f"The uploaded run has no months in {self.start_year}-{self.end_year}."
        if self.cond_source == EMBEDDED and self.cond_member == self.truth_member:
            return "The comparison member must differ from the conditioning run."
        w, cap = self.work(), self.work_cap()
        if w > cap:
            where = (
                f"the Dask cluster's cap of {cap:,} per request (${DASK_MAX_WORK_ENV})"
                if self.uses_cluster()
                else f"this server's cap of {cap:,} per request (${MAX_WORK_ENV})"
            )
            return (
                f"This request is {self.n_members} members x {self.n_months()} months x {self.steps} steps "
                f"= {w:,} units of work, over {where}. Use fewer members, a shorter period or fewer steps."
            )
        return ""

    # ------------------------------------------------------------ running
    task_name = "Generation"

    def start(self) -> bool:
        """Start generating in a background thread; False (with ``error`` set) when refused.

        Only cheap checks run here, in the session's (the server's event loop) thread: the
        conditioning run is built inside the job, so a busy server still answers other sessions.
        """
        if self._refuse():
            return False
        request = GenerationRequest(
            n_members=int(self.n_members),
            steps=int(self.steps),
            mode=self.mode,
            seed=int(self.seed),
            sampler=self.sampler,
        )
        n_months = self.n_months()
        frame = int(min(self.month, max(0, n_months - 1)))
        ref_spec = (
            (tuple(self.reference_members()), int(self.start_year), int(self.end_year), self.grid, APP_SEED)
            if self.has_truth
            else None
        )
        choice = (
            self.cond_source,
            int(self.cond_member),
            int(self.start_year),
            int(self.end_year),
            self.grid,
            self._upload,
        )
        self._frames: list[dict] = []
        on_cluster = self.uses_cluster()
        where = f" on the Dask scheduler {dask_scheduler()}" if on_cluster else ""
        return self._launch(
            lambda report: self._compute(
                conditioning_run(*choice), request, frame, ref_spec, report, on_cluster
            ),
            f"Generating {self.n_members} members x {n_months} months "
            f"({self.mode}, {self.sampler}, {self.steps} steps){where}...",
        )

    def _finish(self, job) -> None:
        ens, analysis, cond = job.result
        self._result_cond, self._result_truth = cond, analysis["has_truth"]
        months = ens.sizes["time"]
        self.param.month.bounds = (0, months - 1)
        self.param.shown_member.bounds = (0, ens.sizes["member"] - 1)
        n = len(self._frames)
        self.param.denoise_step.bounds = (0, max(0, n - 1))
        with param.parameterized.batch_call_watchers(self):
            self.month = min(self.month, months - 1)
            self.shown_member = min(self.shown_member, ens.sizes["member"] - 1)
            self.denoise_step = max(0, n - 1)
            self.denoise = list(self._frames)
            self.analysis = analysis
            self.result = ens
            self.version += 1
            self.running = False
            self.progress = 1.0
            where = (
                f" on the Dask scheduler {ens.attrs['dask_scheduler']}"
                if "dask_scheduler" in ens.attrs
                else ""
            )
            self.status = (
                f"Generated {ens.sizes['member']} members x {months} months in {job.elapsed:.1f} s"
                f"{where} ({ens.attrs['mode']}, {ens.attrs['sampler']}, {ens.attrs['steps']} steps, "
                f"seed {ens.attrs['seed']})."
            )

    def generate(self, timeout: float | None = None) -> xr.DataArray | None:
        """Start, wait and poll: the synchronous path (tests, notebooks). Returns ``result``."""
        return self.result if self.run_and_wait(timeout) else None

    # ------------------------------------------------------------ the worker
    def _compute(
        self, cond: xr.DataArray, request: GenerationRequest, frame: int, ref_spec, report, on_cluster: bool
    ):
        """Generate, here or by the Dask workers (the same members; no denoising preview), and diagnose."""
        self._frames = []
        if on_cluster:
            ens = generate_on_cluster(self.generator.source, cond, request, report)
        else:
            ens = self._generate_here(cond, request, frame, report)
        ens = ens.assign_attrs(conditioning_source=cond.attrs.get("source_description", "user run"))
        ref = embedded_members(*ref_spec) if ref_spec is not None else None
        return ens, diagnose(ens, cond, ref), cond

    def _generate_here(
        self, cond: xr.DataArray, request: GenerationRequest, frame: int, report
    ) -> xr.DataArray:
        """Generate in this process, keeping a denoising frame of month ``frame`` per sampler step."""
        f = min(frame, cond.sizes["time"] - 1)

        def preview(i, n_steps, field):
            resid = field - cond.values[f]
            self._frames.append(
                {
                    "step": int(i),
                    "n_steps": int(n_steps),
                    "frame": f,
                    "field": cond.isel(time=f).copy(data=resid.astype(np.float32)),
                }
            )

        return self.generator.generate(cond, request, progress=report, preview=preview, preview_frame=f)

    # ------------------------------------------------------------ derived for the views (cheap, on demand)
    def climatology(self) -> xr.DataArray:
        """Monthly climatology ``(month, lat, lon)`` of the conditioning run over the period (an embedded
        member's is made once per process, a result's once per result)."""
        if self.result is None and self.cond_source == EMBEDDED:
            return embedded_climatology(
                int(self.cond_member), int(self.start_year), int(self.end_year), self.grid
            )
        cond = self.shown_conditioning()
        if self._clim[0] is not cond:
            self._clim = (cond, cond.groupby("time.month").mean("time"))
        return self._clim[1]

    def prefetch(self) -> None:
        """Make the embedded runs the current choice shows (conditioning run, its climatology, the true
        member and the reference ensemble) in the per-process caches of :mod:`climviz.ui.sources`."""
        if self.cond_source == EMBEDDED:
            self.climatology()
        self.truth()
        self.reference()

    def map_fields(self) -> dict[str, xr.DataArray]:
        """``(lat, lon)`` fields of month ``month``: anomalies (vs the conditioning run's monthly
        climatology) of the conditioning run, a generated member, the generated mean, a true
        member, and the generated spread (std over members)."""
        cond = self.shown_conditioning()
        t = int(min(self.month, cond.sizes["time"] - 1))
        clim = self.climatology()
        m = int(cond["time"].values[t].month)
        out = {"cond": month_anomaly(cond.isel(time=t), clim, m)}
        ens = self.result
        if ens is not None and ens.sizes["time"] == cond.sizes["time"]:
            f = ens.isel(time=t)
            out["member"] = month_anomaly(
                f.isel(member=min(self.shown_member, ens.sizes["member"] - 1)), clim, m
            )
            out["mean"] = month_anomaly(f.mean("member"), clim, m)
            out["spread"] = f.std("member", ddof=1).assign_attrs(
                long_name="spread (std over members)", units="K"
            )
        truth = self.truth()
        if truth is not None:
            out["truth"] = month_anomaly(truth.isel(time=t), clim, m)
        for k, v in out.items():
            if k != "spread":
                v.attrs = {"long_name": "anomaly", "units": "K"}
        return out

    def month_label(self) -> str:
        cond = self.shown_conditioning()
        t = cond["time"].values[int(min(self.month, cond.sizes["time"] - 1))]
        return f"{t.year}-{t.month:02d}"

    def _smooth(self, s: xr.DataArray) -> xr.DataArray:
        return s.rolling(time=self.smoothing, center=True).mean() if self.smoothing > 1 else s

    def regional_series(self) -> dict:
        """Regional-mean anomalies (vs the conditioning run's monthly climatology, K):
        ``years``, ``cond (time)``, ``gen (member, time)``, ``gen_band`` and ``ref_band``
        (5 and 95 % quantiles over members, or None)."""
        region = self.selection()
        cond = self.shown_conditioning()
        clim_r = area_mean(self.climatology(), region)
        month = cond["time"].dt.month

        def anom(x):
            return self._smooth(area_mean(x, region).groupby(month) - clim_r)

        out = {
            "years": decimal_year(cond["time"]),
            "cond": anom(cond),
            "gen": None,
            "gen_band": None,
            "ref_band": None,
            "truth": None,
        }
        if self.result is not None and self.result.sizes["time"] == cond.sizes["time"]:
            g = anom(self.result)
            out["gen"] = g
            out["gen_band"] = g.quantile([0.05, 0.95], dim="member")
        ref = self.reference()
        if ref is not None:
            r = anom(ref)
            out["ref_band"] = r.quantile([0.05, 0.95], dim="member")
        return out

    def eruptions(self) -> list[tuple[str, float]]:
        """(name, decimal year) of eruptions inside the period."""
        y0, y1 = self._period()
        return [(e.name, e.year + (e.month - 0.5) / 12) for e in ERUPTIONS if y0 <= e.year <= y1]

    def scores(self) -> dict | None:
        """Scores of the generated ensemble over the selected region and the whole period, or None.

        ``spread_ratio``: generated spread / spread of the true reference ensemble (1 is right);
        ``crps``: CRPS (K) of the generated ensemble against the held-out true member;
        ``crps_reference``: the same for the true reference ensemble (what a perfect generator would score);
        ``rank_histogram``: rank of the true member among the generated members.
        """
        ens, ref, truth = self.result, self.reference(), self.truth()
        if ens is None or ref is None or truth is None or ens.sizes["time"] != truth.sizes["time"]:
            return None
        region = self.selection()
        g = region.select(ens)
        r = region.select(ref)
        o = region.select(truth)
        w = area_weights(o)
        return {
            "region": region.name,
            "spread_ratio": float(spread_ratio(g, r, weights=w)),
            "crps": float(crps_ensemble(g, o, weights=w)),
            "crps_reference": float(crps_ensemble(r, o, weights=w)),
            "rank_histogram": rank_histogram(g, o, seed=0),
            "n_generated": int(ens.sizes["member"]),
            "n_reference": int(ref.sizes["member"]),
            "truth_member": int(self.truth_member),
            "truth_held_out": self.truth_is_held_out(),
        }

    # ------------------------------------------------------------ export
    def export_dataset(self) -> xr.Dataset:
        """The generated ensemble as a CF Dataset (``tas (member, time, lat, lon)``)."""
        if self.result is None:
            raise ValueError("nothing generated yet")
        ds = self.result.to_dataset(name="tas")
        ds["lat"].attrs.update(standard_name="latitude", units="degrees_north", axis="Y")
        ds["lon"].attrs.update(standard_name="longitude", units="degrees_east", axis="X")
        ds["time"].attrs.update(standard_name="time", axis="T")
        ds.attrs.update(self.result.attrs)
        ds.attrs.update(
            {
                "Conventions": "CF-1.8",
                "title": "climviz generated ensemble",
                "synthetic": "yes" if self._result_truth else "conditioning run uploaded by the user",
            }
        )
        return ds

    def export_netcdf(self) -> io.BytesIO:
        """NetCDF bytes of :meth:`export_dataset` (for a download button)."""
        from climviz.data.io import write_dataset

        with tempfile.TemporaryDirectory() as tmp:
            path = write_dataset(self.export_dataset(), Path(tmp) / "generated.nc")
            return io.BytesIO(Path(path).read_bytes())
