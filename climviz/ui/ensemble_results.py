"""What the ensemble tab shows of a generated ensemble (Param only: no Panel, no torch here).

:class:`EnsembleResults` keeps the last result of a session (the ensemble, its
conditioning run, the diagnostics and denoising frames of the job) and the
choices of what to look at (region, month, members, smoothing, anomaly
reference), and derives every number the views draw: map fields, regional
series, scores, eruptions. Before the first result it shows the current
conditioning choice of its :class:`~climviz.ui.ensemble_request.EnsembleRequest`.
"""

from __future__ import annotations

import param
import xarray as xr

from climviz.data.forcing import eruptions_between
from climviz.data.grid import decimal_years
from climviz.diagnostics import area_mean, area_weights, crps_ensemble, rank_histogram, spread_ratio
from climviz.diagnostics.agreement import DEFAULT_THRESHOLD, agreeing_points, agreement_mask
from climviz.ui.ensemble_request import EMBEDDED, EnsembleRequest
from climviz.ui.point_inspect import GridPoint, PointInspection, inspect_point, nearest_point, pick_point
from climviz.ui.region_choice import RegionChoice
from climviz.ui.sources import APP_SEED, N_EMBEDDED, embedded_climatology, embedded_members

CONDITIONING_CLIM, TRUE_CLIM = "conditioning run", "true ensemble"


def month_anomaly(field: xr.DataArray, clim: xr.DataArray, month: int) -> xr.DataArray:
    """``field (lat, lon)`` minus the climatology of calendar ``month`` (1..12)."""
    return field - clim.sel(month=month, drop=True)


def monthly_climatology(runs: xr.DataArray) -> xr.DataArray:
    """``(month, lat, lon)`` mean of ``runs (time, lat, lon)`` or ``(member, time, lat, lon)`` by
    calendar month, over the months (and members)."""
    dims = [d for d in ("time", "member") if d in runs.dims]
    return runs.groupby("time.month").mean(dims)


class EnsembleResults(RegionChoice):
    """The shown result of ``request`` and what the views draw of it.

    ``train`` lists the embedded members the generator was trained on (a true member outside
    it is held out).
    """

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
    anomaly_reference = param.Selector(
        default=CONDITIONING_CLIM,
        objects=[CONDITIONING_CLIM, TRUE_CLIM],
        doc="Anomalies of the maps and regional series are taken from the monthly climatology of this",
    )
    denoise_step = param.Integer(default=0, bounds=(0, None), doc="Sampler step shown in the denoising view")
    point_lon = param.Number(
        default=None, allow_None=True, doc="Longitude (degrees east) of the inspected grid point (None: none)"
    )
    point_lat = param.Number(
        default=None, allow_None=True, doc="Latitude (degrees north) of the inspected grid point (None: none)"
    )

    # ------------------------------------------------------------ kept from the last job (read by views)
    result = param.Parameter(
        default=None, precedence=-1, doc="Generated ensemble tas (member, time, lat, lon)"
    )
    version = param.Integer(default=0, precedence=-1, doc="Incremented with each new result")
    analysis = param.Dict(default={}, precedence=-1, doc="Diagnostics computed once per result")
    denoise = param.List(default=[], precedence=-1, doc="Denoising frames: dicts step, n_steps, field")

    def __init__(self, request: EnsembleRequest, train=range(25), **params):
        super().__init__(**params)
        self.request = request
        self.train = set(train)
        self.result_cond: xr.DataArray | None = None  # the conditioning run of ``result``
        self.result_has_truth = True  # whether ``result`` came from an embedded member
        self._clim: dict[str, tuple] = {}  # reference name -> (runs it was made of, climatology)

    def keep(self, ens: xr.DataArray, cond: xr.DataArray, analysis: dict, frames: list[dict]) -> None:
        """Show a new result: ``ens`` generated from ``cond``, its ``analysis`` and denoising ``frames``."""
        self.result_cond, self.result_has_truth = cond, analysis["has_truth"]
        months, members = ens.sizes["time"], ens.sizes["member"]
        self.param.month.bounds = (0, months - 1)
        self.param.shown_member.bounds = (0, members - 1)
        self.param.denoise_step.bounds = (0, max(0, len(frames) - 1))
        with param.parameterized.batch_call_watchers(self):
            self.month = min(self.month, months - 1)
            self.shown_member = min(self.shown_member, members - 1)
            self.denoise_step = max(0, len(frames) - 1)
            self.denoise = list(frames)
            self.analysis = analysis
            self.result = ens
            self.version += 1

    def refusal(self) -> str:
        """Why a request cannot be compared with the truth ('' when it can)."""
        if self.request.has_truth and self.request.cond_member == self.truth_member:
            return "The comparison member must differ from the conditioning run."
        return ""

    # ------------------------------------------------------------ the runs shown
    def shown_conditioning(self) -> xr.DataArray:
        """The conditioning run of the shown result (the current choice before any result)."""
        return self.result_cond if self.result is not None else self.request.conditioning()

    def period(self) -> tuple[int, int]:
        """First and last year shown."""
        if self.result is None:
            return int(self.request.start_year), int(self.request.end_year)
        years = self.result_cond["time"].dt.year.values
        return int(years.min()), int(years.max())

    def has_truth(self) -> bool:
        return self.result_has_truth if self.result is not None else self.request.has_truth

    def reference_members(self) -> list[int]:
        """True members used as the reference ensemble: the last ``n_reference`` + 1 of the embedded
        ensemble, minus the conditioning run and the shown truth member."""
        ks = [
            k
            for k in range(N_EMBEDDED - self.n_reference - 2, N_EMBEDDED)
            if k not in (self.request.cond_member, self.truth_member)
        ]
        return ks[-self.n_reference :]

    def reference_spec(self) -> tuple | None:
        """The arguments of ``embedded_members`` for the reference ensemble of the current
        request (to build it in a job), or None for an upload."""
        if not self.request.has_truth:
            return None
        r = self.request
        return (tuple(self.reference_members()), int(r.start_year), int(r.end_year), r.grid, APP_SEED)

    def reference(self) -> xr.DataArray | None:
        """The true reference ensemble ``(member, time, lat, lon)`` for the period (None for an upload)."""
        if not self.has_truth():
            return None
        return embedded_members(tuple(self.reference_members()), *self.period(), self.request.grid, APP_SEED)

    def truth(self) -> xr.DataArray | None:
        """One held-out true member ``(time, lat, lon)`` (None for an upload)."""
        if not self.has_truth():
            return None
        run = embedded_members((int(self.truth_member),), *self.period(), self.request.grid, APP_SEED)
        return run.isel(member=0, drop=True)

    def truth_is_held_out(self) -> bool:
        return self.truth_member not in self.train

    def prefetch(self) -> None:
        """Make the embedded runs the current choice shows (conditioning run, its climatology, the true
        member and the reference ensemble) in the per-process caches of :mod:`climviz.ui.sources`."""
        if self.request.cond_source == EMBEDDED:
            self.climatology(CONDITIONING_CLIM)
        self.truth()
        self.reference()

    # ------------------------------------------------------------ anomalies
    def climatology(self, reference: str | None = None) -> xr.DataArray:
        """Monthly climatology ``(month, lat, lon)`` over the period of ``reference``
        (default ``anomaly_reference``): the conditioning run's, or the true reference ensemble's
        (its mean over members). Each is made once per result (an embedded member's once per
        process); the true ensemble's needs an embedded conditioning run (``ValueError``)."""
        reference = reference or self.anomaly_reference
        if reference == TRUE_CLIM:
            runs = self.reference()
            if runs is None:
                raise ValueError("the true ensemble's climatology needs an embedded conditioning run")
        elif self.result is None and self.request.cond_source == EMBEDDED:
            r = self.request
            return embedded_climatology(int(r.cond_member), int(r.start_year), int(r.end_year), r.grid)
        else:
            runs = self.shown_conditioning()
        made_of, clim = self._clim.get(reference, (None, None))
        if made_of is not runs:
            clim = monthly_climatology(runs)
            self._clim[reference] = (runs, clim)
        return clim

    def anomaly_text(self) -> str:
        """What the anomalies are taken from, for titles."""
        y0, y1 = self.period()
        whose = (
            "the conditioning run's" if self.anomaly_reference == CONDITIONING_CLIM else "the true ensemble's"
        )
        return f"anomaly vs {whose} {y0}-{y1} monthly climatology"

    def map_fields(self) -> dict[str, xr.DataArray]:
        """``(lat, lon)`` fields of month ``month``: anomalies (vs :meth:`climatology`) of the
        conditioning run, a generated member, the generated mean, a true member, the true reference
        ensemble's mean (with a result), and the generated spread (std over members)."""
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
        ref = self.reference() if ens is not None else None
        if ref is not None and ref.sizes["time"] == cond.sizes["time"]:
            out["ref_mean"] = month_anomaly(ref.isel(time=t).mean("member"), clim, m)
        for k, v in out.items():
            if k != "spread":
                v.attrs = {"long_name": "anomaly", "units": "K"}
        return out

    def agreement_points(self, threshold: float = DEFAULT_THRESHOLD, every: int = 2) -> dict[str, tuple]:
        """Stipples of month ``month``: ``{"mean": (lon, lat)}`` where at least ``threshold`` of the
        generated members agree on the sign of the generated-mean anomaly, ``{"ref_mean": ...}``
        the same for the true reference members (each only when there is such an ensemble); on
        every ``every``-th row and column of the grid, so that the dots leave the colours readable."""
        cond = self.shown_conditioning()
        t = int(min(self.month, cond.sizes["time"] - 1))
        clim, m = self.climatology(), int(cond["time"].values[t].month)
        out = {}
        ens, ref = self.result, self.reference()
        for name, runs in (("mean", ens), ("ref_mean", ref)):
            if runs is not None and runs.sizes["time"] == cond.sizes["time"]:
                mask = agreement_mask(month_anomaly(runs.isel(time=t), clim, m), threshold)
                out[name] = agreeing_points(
                    mask.isel(lat=slice(None, None, every), lon=slice(None, None, every))
                )
        return out

    # ------------------------------------------------------------ one grid point
    def set_point(self, x: float, y: float, central_lon: float = 180.0) -> GridPoint:
        """Inspect the grid point nearest a tap at ``(x, y)`` on a map in display coordinates
        (``x = lon - central_lon``; see :func:`~climviz.ui.point_inspect.pick_point`)."""
        p = pick_point(self.shown_conditioning(), x, y, central_lon)
        self.param.update(point_lon=p.lon, point_lat=p.lat)
        return p

    def grid_point(self) -> GridPoint | None:
        """The grid point nearest ``(point_lon, point_lat)`` on the shown grid, or None when nothing
        is selected."""
        if self.point_lon is None or self.point_lat is None:
            return None
        cond = self.shown_conditioning()
        return nearest_point(cond["lat"].values, cond["lon"].values, self.point_lon, self.point_lat)

    def point_inspection(self) -> PointInspection | None:
        """What the point views draw (series, anomaly distributions, ranks) at :meth:`point`, with
        anomalies against :meth:`climatology`; None without a point or a result."""
        p, ens, cond = self.grid_point(), self.result, self.shown_conditioning()
        if p is None or ens is None or ens.sizes["time"] != cond.sizes["time"]:
            return None
        return inspect_point(
            ens, cond, p, self.reference(), clim=self.climatology(), clim_note=self.anomaly_text()
        )

    def month_label(self) -> str:
        cond = self.shown_conditioning()
        t = cond["time"].values[int(min(self.month, cond.sizes["time"] - 1))]
        return f"{t.year}-{t.month:02d}"

    def _smooth(self, s: xr.DataArray) -> xr.DataArray:
        return s.rolling(time=self.smoothing, center=True).mean() if self.smoothing > 1 else s

    def regional_series(self) -> dict:
        """Regional-mean anomalies (vs :meth:`climatology`, K): ``years``, ``cond (time)``,
        ``gen (member, time)``, ``gen_band`` and ``ref_band`` (5 and 95 % quantiles over members,
        or None)."""
        region = self.selection()
        cond = self.shown_conditioning()
        clim_r = area_mean(self.climatology(), region)
        month = cond["time"].dt.month

        def anom(x):
            return self._smooth(area_mean(x, region).groupby(month) - clim_r)

        out = {
            "years": decimal_years(cond["time"].values),
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
            out["ref_band"] = anom(ref).quantile([0.05, 0.95], dim="member")
        return out

    def eruptions(self) -> list[tuple[str, float]]:
        """(name, decimal year) of eruptions inside the period."""
        return eruptions_between(*self.period())

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
        g, r, o = region.select(ens), region.select(ref), region.select(truth)
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
