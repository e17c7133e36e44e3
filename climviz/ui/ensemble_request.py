"""What the user asks the ensemble generator for (Param only: no Panel, no torch here).

:class:`EnsembleRequest` holds the conditioning run (an embedded member or an
uploaded file), the ensemble size, sampler, steps, sequence mode, period and
seed; it says why a request cannot run (:meth:`EnsembleRequest.refusal`) and
turns an acceptable one into a :class:`~climviz.requests.GenerationRequest`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import param
import xarray as xr

from climviz.requests import GenerationRequest
from climviz.ui.cluster import (
    DASK_MAX_WORK_ENV,
    MAX_CLUSTER_MEMBERS,
    cluster_max_work,
    dask_scheduler,
    min_cluster_members,
)
from climviz.ui.jobs import env_cap
from climviz.ui.sources import APP_GRID, APP_SEED, N_EMBEDDED, embedded_members
from climviz.ui.upload import UploadError, read_conditioning_upload
from climviz.vocabulary import DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLER_NAMES

MAX_WORK_ENV = "CLIMVIZ_MAX_WORK"
DEFAULT_MAX_WORK = 250_000  # members x months x sampler steps per request
EMBEDDED, UPLOAD = "embedded member", "uploaded file"
MAX_MEMBERS = 50
DEFAULT_YEARS = 20  # length of the default period when the model's span moves it


def max_work() -> int:
    """The per-request cap on members x months x steps (``$CLIMVIZ_MAX_WORK``)."""
    return env_cap(MAX_WORK_ENV, DEFAULT_MAX_WORK)


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


class EnsembleRequest(param.Parameterized):
    """A request for generated members, checked against the ``generator`` (``None``: ``note`` says why)."""

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
    upload_note = param.String(default="", precedence=-1, doc="What became of the last upload")

    def __init__(self, generator=None, note: str = "", **params):
        super().__init__(**params)
        self.generator, self.note = generator, note
        self.upload: xr.DataArray | None = None  # the uploaded run (time, lat, lon), K
        if generator is not None:
            self.param.mode.objects = list(generator.modes)
            if self.mode not in generator.modes:
                self.mode = generator.modes[0]
            self._fit_period(*self.model_years())
        if self.cluster_available:  # a cluster takes larger ensembles than this server alone
            self.param.n_members.bounds = (2, MAX_CLUSTER_MEMBERS)

    def _fit_period(self, y0: int, y1: int) -> None:
        """Bound the years to the model's span; a period outside it becomes its first (or last) 20 years."""
        for name in ("start_year", "end_year"):
            self.param[name].bounds = (y0, y1)
        if not (y0 <= self.start_year <= self.end_year <= y1):
            start = max(y0, min(self.start_year, y1 - DEFAULT_YEARS + 1))
            self.param.update(start_year=start, end_year=min(y1, start + DEFAULT_YEARS - 1))

    # ------------------------------------------------------------ the model
    @property
    def available(self) -> bool:
        return self.generator is not None

    @property
    def grid(self) -> tuple[int, int]:
        if self.generator is None:
            return APP_GRID
        return (len(self.generator.lat), len(self.generator.lon))

    def model_years(self) -> tuple[int, int]:
        """Whole years inside the span every diffusion model was trained on (generation is refused outside)."""
        y0, y1 = self.generator.trained_years()  # +-inf: the model is not bound to a period
        lo = int(np.ceil(y0)) if np.isfinite(y0) else 1850
        hi = int(np.floor(y1 - 1e-6)) if np.isfinite(y1) else 2005
        return max(1850, lo), min(2005, hi)

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

    # ------------------------------------------------------------ the conditioning run
    @property
    def has_truth(self) -> bool:
        """Whether the conditioning run has true siblings (an embedded member does, an upload not)."""
        return self.cond_source == EMBEDDED

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
        self.upload = run
        self.param.update(start_year=lo, end_year=hi, cond_source=UPLOAD)
        self.upload_note = note
        return True

    def conditioning(self) -> xr.DataArray:
        """The conditioning run ``(time, lat, lon)`` in K for the chosen period."""
        return conditioning_run(*self.conditioning_choice())

    def conditioning_choice(self) -> tuple:
        """The arguments of :func:`conditioning_run` for the current choice (to build it in a job)."""
        return (
            self.cond_source,
            int(self.cond_member),
            int(self.start_year),
            int(self.end_year),
            self.grid,
            self.upload,
        )

    # ------------------------------------------------------------ limits
    def n_months(self) -> int:
        if self.cond_source == UPLOAD and self.upload is not None:
            y = self.upload["time"].dt.year
            return int(((y >= self.start_year) & (y <= self.end_year)).sum())
        return 12 * max(0, self.end_year - self.start_year + 1)

    def work(self) -> int:
        """members x months x sampler steps of the current request."""
        return int(self.n_members) * self.n_months() * int(self.steps)

    def work_text(self) -> str:
        """The work of the request against its cap, in one line."""
        w, cap = self.work(), self.work_cap()
        flag = "**over the cap**" if w > cap else "ok"
        where = "; runs on the Dask cluster" if self.uses_cluster() else ""
        return (
            f"Work: {self.n_members} members x {self.n_months()} months x {self.steps} steps = **{w:,}** "
            f"(cap {cap:,}: {flag}{where})"
        )

    def refusal(self) -> str:
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
        if self.cond_source == UPLOAD and self.upload is None:
            return "Upload a NetCDF file first, or choose an embedded member as conditioning run."
        if self.n_months() == 0:
            return f"The uploaded run has no months in {self.start_year}-{self.end_year}."
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

    def generation_request(self) -> GenerationRequest:
        """The frozen request the pipeline receives (raises ``ValueError`` on a bad choice)."""
        return GenerationRequest(
            n_members=int(self.n_members),
            steps=int(self.steps),
            mode=self.mode,
            seed=int(self.seed),
            sampler=self.sampler,
        )

    def describe(self) -> str:
        """One line for the status while generating."""
        where = f" on the Dask scheduler {dask_scheduler()}" if self.uses_cluster() else ""
        return (
            f"Generating {self.n_members} members x {self.n_months()} months "
            f"({self.mode}, {self.sampler}, {self.steps} steps){where}..."
        )
