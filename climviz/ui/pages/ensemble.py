"""The ensemble tab: ask for a generated ensemble, then compare it with the truth.

Every pane is made once, when the page is built; watchers of the state
(``param.depends(..., watch=True)``) give the panes new objects, and views in
hidden sub-tabs are drawn when their tab is opened (:class:`~climviz.ui.pages.parts.DrawnView`).
The maps are DynamicMaps fed by ``Pipe`` streams: they update in place and keep
their (linked) zoom when the month or member changes.
"""

from __future__ import annotations

import holoviews as hv
import panel as pn
import param
from bokeh.events import SelectionGeometry, Tap

from climviz.data.grid import decimal_years
from climviz.ui import texts
from climviz.ui.ensemble_request import EMBEDDED, UPLOAD, EnsembleRequest
from climviz.ui.ensemble_results import EnsembleResults
from climviz.ui.export import export_netcdf
from climviz.ui.generation import EnsembleGeneration
from climviz.ui.pages.parts import DrawnView, JobControls, deferred, explain, synthetic_banner, unavailable
from climviz.ui.point_views import (
    anomaly_distribution_view,
    point_marker,
    point_rank_view,
    point_series_view,
    quantile_table,
    stipple_view,
)
from climviz.ui.steps_sweep import StepsSweep
from climviz.ui.sweep_views import sweep_scores_view
from climviz.ui.views import (
    acf_view,
    bars_view,
    denoise_curve,
    map_view,
    nino_view,
    placeholder_map,
    series_view,
    spectrum_view,
    symmetric_clim,
)

MAP_MIN_W = 300  # px: below this a global map is unreadable
MAPS_AXES = "ensemble"  # the ensemble maps zoom together (and with no other maps)
ENSO_AXES = "enso"
ENSO_EXTENT = (-60.0, -25.0, 110.0, 25.0)  # tropical Pacific in display coordinates (lon - 180)
MAPS = {  # name in EnsembleResults.map_fields -> title, colour map (in the order shown, two a row)
    "cond": ("Conditioning run", "RdBu_r"),
    "truth": ("Held-out true member", "RdBu_r"),
    "member": ("Generated member", "RdBu_r"),
    "spread": ("Generated spread", "viridis"),
    "mean": ("Generated mean", "RdBu_r"),
    "ref_mean": ("True-ensemble mean", "RdBu_r"),
}
GENERATED = ("member", "spread", "mean", "ref_mean")  # maps shown once there is a result
SPEEDS = {"1 frame/s": 1000, "2 frames/s": 500, "4 frames/s": 250}  # the Player's interval, ms


# what the views follow, besides the result itself ("results.version")
CONDITIONING = ("request.cond_member", "request.cond_source", "request.start_year", "request.end_year")
COMPARISON = ("results.region", "results.box", "results.truth_member", "results.n_reference")
POINT = ("results.point_lon", "results.point_lat")
NO_POINTS = hv.Points([], ["x", "y"])  # where a map has no stipples or marker (its layers stay the same)


class _ResultView(pn.viewable.Viewer):
    """A view of what a request produced."""

    request = param.ClassSelector(class_=EnsembleRequest)
    results = param.ClassSelector(class_=EnsembleResults)


class _DrawnTab(_ResultView):
    """A sub-tab: an explanation above a :class:`DrawnView` (``self.view``) that subclasses make
    and mark stale from their own watchers."""

    text = ""  # the explanation
    view: DrawnView

    def header(self) -> list:
        """What comes between the explanation and the view."""
        return []

    def __panel__(self):
        return pn.Column(
            explain(self.text, width=None), *self.header(), self.view, sizing_mode="stretch_width"
        )


def _map_pane(obj, linked: bool = True) -> pn.pane.HoloViews:
    return pn.pane.HoloViews(obj, sizing_mode="stretch_width", min_width=MAP_MIN_W, linked_axes=linked)


class MapsView(_ResultView):
    """One month's maps: conditioning run, held-out true member, generated member, spread and mean,
    and the true ensemble's mean; the point panel below them.

    A box drawn on the conditioning-run map with the box-select tool sets a custom region; a tap
    on any map picks the grid point the point panel shows (ringed on every map). The generated
    and true means are stippled where the members agree on the sign of the anomaly.
    """

    def __init__(self, **params):
        super().__init__(**params)
        self._like = None  # a field of the grid, for the empty maps
        self._sent: dict[str, dict] = {}  # the data last sent down each pipe
        self._pipes = {name: hv.streams.Pipe(data=None) for name in MAPS}
        self.maps = {name: hv.DynamicMap(self._draw, streams=[pipe]) for name, pipe in self._pipes.items()}
        self.panes = {name: _map_pane(dmap) for name, dmap in self.maps.items()}
        self._tapped: set[str] = set()  # ids of the figures whose taps are listened to
        self.caption = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.grid = pn.GridBox(ncols=2, sizing_mode="stretch_width")
        self.point = PointView(request=self.request, results=self.results)
        self._layout = pn.Column(
            explain(texts.MAPS, width=None), self.caption, self.grid, self.point, sizing_mode="stretch_width"
        )
        self._arrange()
        self.update()

    def _on_box(self, bounds):
        if bounds is not None:
            x0, y0, x1, y1 = bounds
            self.results.set_box(x0 + 180.0, y0, x1 + 180.0, y1)  # display x is lon - 180 (Pacific-centred)

    def on_tap(self, x=None, y=None):
        """A tap on a map (display coordinates, Pacific-centred): inspect the nearest grid point."""
        if x is not None and y is not None:
            self.results.set_point(x, y, central_lon=180.0)

    def _listen_to_taps(self, plot, element):
        """Plot hook: the figure's tap events call :meth:`on_tap`, once per figure. (A HoloViews
        ``Tap`` or ``BoundsXY`` stream on these DynamicMaps gets no callback: GeoViews projects the
        overlay into a new DynamicMap, which the stream's source no longer matches.) Box selections
        go to :meth:`_on_selection`."""
        fig = plot.state
        if fig.id not in self._tapped:
            self._tapped.add(fig.id)
            fig.on_event(Tap, lambda event: self.on_tap(event.x, event.y))
            fig.on_event(SelectionGeometry, self._on_selection)

    def _on_selection(self, event):
        """A finished box drawn with the box-select tool (only the conditioning-run map offers it)
        chooses the region, as a ``BoundsXY`` stream would if it reached these maps."""
        g = event.geometry
        if event.final and g.get("type") == "rect":
            self._on_box(
                (min(g["x0"], g["x1"]), min(g["y0"], g["y1"]), max(g["x0"], g["x1"]), max(g["y0"], g["y1"]))
            )

    def _draw(self, data):
        """The map of one ``data`` dict sent down a pipe (DynamicMap callback): the field, its
        stipples and the marker of the inspected point (empty layers where there are none)."""
        if data is None:
            return hv.Overlay()
        if data["field"] is None:
            base = placeholder_map(
                data["like"], data["title"], responsive=True, box=data["box"], dynamic=False, axes=MAPS_AXES
            )
        else:
            base = map_view(
                data["field"],
                title=data["title"],
                cmap=data["cmap"],
                clim=data["clim"],
                responsive=True,
                min_width=MAP_MIN_W,
                box=data["box"],
                tools=data["tools"],
                dynamic=False,
                axes=MAPS_AXES,
            )
        stipples = data.get("stipples")
        dots = stipple_view(*stipples) if stipples is not None else stipple_view([], [])
        point = data.get("point")
        ring = point_marker(point) if point is not None else point_marker_empty()
        opts = base.opts.get().kwargs  # the map's own options: size, title, ...
        return (base * dots * ring).opts(**opts, hooks=[*opts.get("hooks", []), self._listen_to_taps])

    @param.depends("results.version", watch=True)
    def _arrange(self):
        """Conditioning run and true member; the generated maps join with the first result."""
        names = ["cond", "truth"] + (list(GENERATED) if self.results.result is not None else [])
        panes = [self.panes[n] for n in names]
        if list(self.grid.objects) != panes:
            self.grid.objects = panes

    @param.depends(
        "results.version",
        "results.month",
        "results.shown_member",
        "results.anomaly_reference",
        *COMPARISON,
        *CONDITIONING,
        watch=True,
    )
    def update(self):
        """Send each map its field (the fields of a month are computed once for all maps)."""
        res = self.results
        try:
            fields, stipples = res.map_fields(), res.agreement_points()
            label = res.month_label()
            caption = f"*Month {label}, {res.anomaly_text()}.* {texts.MAPS_CAPTION}"
        except Exception as err:  # e.g. an empty period, or no true ensemble: said on the map titles
            fields, stipples, label, caption = {}, {}, str(err), f"**No maps:** {err}"
        clim = symmetric_clim(*[v for k, v in fields.items() if k != "spread"]) if fields else (-1, 1)
        box = res.selection() if res.region != "Global" else None
        if self._like is None:
            self._like = res.shown_conditioning().isel(time=0)
        self.caption.object = caption
        for name, (title, cmap) in MAPS.items():
            field = fields.get(name)
            if field is None:
                why = (
                    "press Generate"
                    if name not in ("truth", "ref_mean")
                    else "no true ensemble for an uploaded run"
                )
                title = f"{title}: {why if fields else label}"
            else:
                title = f"{title}, {label}"
            if name in stipples:
                title += " (dots: members agree)"
            like = self._like.assign_attrs(
                long_name="spread (std over members)" if name == "spread" else "anomaly", units="K"
            )
            self._sent[name] = {
                "field": field,
                "like": like,
                "title": title,
                "cmap": cmap,
                "clim": None if name == "spread" else clim,
                "box": box,
                "tools": ("hover", "box_select") if name == "cond" else ("hover",),
                "stipples": stipples.get(name),
                "point": self._point(),
            }
        self._send()

    def _point(self):
        try:
            return self.results.grid_point()
        except Exception:  # no conditioning run to pick on (e.g. an empty period)
            return None

    @param.depends(*POINT, watch=True)
    def _point_changed(self):
        """Ring the new point on every map: the fields already sent are sent again, not recomputed."""
        point = self._point()
        for data in self._sent.values():
            data["point"] = point
        self._send()

    def _send(self):
        shown = {n for n in MAPS if self.panes[n] in self.grid.objects}
        for name in sorted(self._sent, key=lambda n: n not in shown):  # the maps shown first
            self._pipes[name].send(dict(self._sent[name]))

    def __panel__(self):
        return self._layout


def point_marker_empty() -> hv.Points:
    return NO_POINTS.opts(color="magenta", size=10, marker="circle", fill_alpha=0, line_width=2)


def _shape(obj) -> tuple:
    """What a plot is made of (layer types and labels): plots of one shape update one figure."""
    layers = obj if isinstance(obj, hv.Overlay) else [obj]
    return tuple((type(e).__name__, e.label) for e in layers)


class PipedPlot:
    """A fixed-size HoloViews pane fed through a ``Pipe``: a new plot of the same shape updates the
    figure in place (cheap); one of another shape (e.g. more members) replaces it (draws it anew)."""

    def __init__(self, width: int, height: int):
        self.pane = pn.pane.HoloViews(
            None, linked_axes=False, sizing_mode="fixed", width=width, height=height
        )
        self._pipe: hv.streams.Pipe | None = None
        self._shape: tuple | None = None

    def show(self, obj) -> None:
        if obj is None or isinstance(obj, hv.Table):  # a table plot does not update from a pipe
            self.pane.object, self._shape = obj, None
        elif _shape(obj) != self._shape:
            self._pipe, self._shape = hv.streams.Pipe(data=obj), _shape(obj)
            show = hv.core.spaces.Callable(lambda data: data, memoize=False)  # plots of one shape hash alike
            self.pane.object = hv.DynamicMap(show, streams=[self._pipe]).opts(
                hv.opts.Curve(framewise=True),
                hv.opts.Histogram(framewise=True),
                hv.opts.Bars(framewise=True),
                hv.opts.Overlay(framewise=True),
            )
        else:
            self._pipe.send(obj)


class PointView(_ResultView):
    """The tapped grid point: time series of the conditioning run, the generated and true members;
    the distributions of their anomalies; the rank of the true members among the generated ones."""

    def __init__(self, **params):
        super().__init__(**params)
        self.title = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.plots = {
            "series": PipedPlot(660, 320),
            "distribution": PipedPlot(440, 320),
            "ranks": PipedPlot(440, 300),
            "quantiles": PipedPlot(440, 110),
        }
        self.series, self.distribution, self.ranks, self.quantiles = (p.pane for p in self.plots.values())
        self.view = DrawnView(
            self._draw,
            pn.Row(self.series, self.distribution),
            pn.Row(self.ranks, self.quantiles),
        )
        self._layout = pn.Column(self.title, self.view, sizing_mode="stretch_width")
        self._changed()

    def _draw(self) -> str:
        res = self.results
        p = res.grid_point()
        if p is None:
            self.title.object = "#### Point"
            return "*Tap any map to see one grid point: its time series, distribution and rank histogram.*"
        self.title.object = f"#### Point {p.label()}"
        insp = res.point_inspection()
        if insp is None:
            return "*Generate an ensemble to see it at this point.*"
        plots = self.plots
        plots["series"].show(point_series_view(insp, width=660, height=320))
        plots["distribution"].show(anomaly_distribution_view(insp, width=440, height=320))
        plots["ranks"].show(point_rank_view(insp, width=440, height=300))
        plots["quantiles"].show(quantile_table(insp).opts(width=440, height=110))
        self.ranks.visible = insp.rank_counts is not None
        return ""

    @param.depends(
        "results.version",
        "results.anomaly_reference",
        "results.n_reference",
        *POINT,
        *CONDITIONING,
        watch=True,
    )
    def _changed(self):
        self.view.redraw()

    def __panel__(self):
        return self._layout


class SeriesView(_DrawnTab):
    """The regional-mean anomaly of the conditioning run, the generated and the true ensembles."""

    text = texts.SERIES

    def __init__(self, **params):
        super().__init__(**params)
        self.plot = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="stretch_width")
        self.view = DrawnView(self._draw, self.plot)

    def _draw(self) -> str:
        res = self.results
        try:
            s = res.regional_series()
        except Exception as err:
            return f"No time series: {err}"
        running = f" ({res.smoothing}-month running mean)" if res.smoothing > 1 else ""
        self.plot.object = series_view(
            s, res.eruptions(), title=f"{res.selection().name}: regional-mean anomaly{running}"
        )
        return ""

    @param.depends(
        "results.version",
        "results.smoothing",
        "results.anomaly_reference",
        *COMPARISON,
        *CONDITIONING,
        watch=True,
    )
    def _changed(self):
        self.view.changed()


class EnsoView(_DrawnTab):
    """Nino3.4 of the conditioning run, generated and true members; spectra, autocorrelation, EOFs."""

    text = texts.ENSO

    def __init__(self, **params):
        super().__init__(**params)
        self.nino = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        self.spectrum = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        self.acf = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        # the two EOF maps zoom together, apart from the other maps
        self.eofs = [_map_pane(None) for _ in range(2)]
        self.corr = pn.pane.Markdown("")
        self.notes = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.view = DrawnView(
            self._draw,
            self.nino,
            pn.Row(self.spectrum, self.acf),
            pn.Row(*self.eofs, sizing_mode="stretch_width"),
            self.corr,
            self.notes,
        )

    def _draw(self) -> str:
        a = self.results.analysis
        if self.results.result is None or not a:
            return "*Generate an ensemble to see its ENSO.*"
        self.nino.visible = self.spectrum.visible = self.acf.visible = "nino_gen" in a
        if "nino_gen" in a:
            psd, acf = {"generated": a["psd_gen"]}, {"generated": a["acf_gen"]}
            if "psd_ref" in a:
                psd["true"], acf["true"] = a["psd_ref"], a["acf_ref"]
            if a.get("observed"):  # dashed reference: the real Nino3.4
                obs = a["observed"]
                psd[obs["label"]], acf[obs["label"]] = obs["psd"], obs["acf"]
            years = decimal_years(a["nino_gen"]["time"].values)
            self.nino.object = nino_view(years, a["nino_cond"], a["nino_gen"], a.get("nino_ref"), width=820)
            self.spectrum.object = spectrum_view(psd, width=420)
            self.acf.object = acf_view(acf, width=400)
        eofs = [(a[k], t) for k, t in (("eof_gen", "generated"), ("eof_ref", "true")) if a.get(k) is not None]
        clim = symmetric_clim(*[ds["eof"] for ds, _ in eofs]) if eofs else None
        for pane, (ds, title) in zip(self.eofs, eofs):
            pane.object = map_view(
                ds["eof"].assign_attrs(long_name="EOF 1", units="K"),
                title=f"Leading EOF, {title} ({float(ds['variance_fraction']):.0%})",
                clim=clim,
                responsive=True,
                extent=ENSO_EXTENT,
                axes=ENSO_AXES,
            )
        for k, pane in enumerate(self.eofs):
            pane.visible = k < len(eofs)
        self.corr.object = (
            f"Pattern correlation of the two leading EOFs: **{a['eof_corr']:.2f}**" if "eof_corr" in a else ""
        )
        self.notes.object = "\n\n".join(f"*{n}*" for n in a.get("notes", []))
        return ""

    @param.depends("results.version", watch=True)
    def _changed(self):
        self.view.changed()


class ScoresView(_DrawnTab):
    """Spread ratio, CRPS and rank histogram of the generated ensemble in the region."""

    text = texts.SCORES

    def __init__(self, **params):
        super().__init__(**params)
        self.table = pn.pane.Markdown("", width=460)
        self.bars = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        self.view = DrawnView(self._draw, pn.Row(self.table, self.bars))

    def _draw(self) -> str:
        if self.results.result is None:
            return "*Generate an ensemble to score it.*"
        try:
            s = self.results.scores()
        except Exception as err:
            return f"No scores for this selection: {err}"
        if s is None:
            return "*Scores need a true ensemble: only for embedded conditioning runs.*"
        held = "held out of training" if s["truth_held_out"] else "seen in training"
        self.table.object = (
            f"| score ({s['region']}, whole period) | generated | true ensemble (ideal) |\n|---|---|---|\n"
            f"| spread ratio (generated / true) | **{s['spread_ratio']:.2f}** | 1 |\n"
            f"| CRPS vs true member {s['truth_member']} ({held}), K | **{s['crps']:.3f}** | {s['crps_reference']:.3f} |\n"
            f"| members | {s['n_generated']} | {s['n_reference']} |"
        )
        self.bars.object = bars_view(s["rank_histogram"])
        return ""

    @param.depends("results.version", *COMPARISON, watch=True)
    def _changed(self):
        self.view.changed()


class DenoiseView(_DrawnTab):
    """The sampler's prediction of one month at each step (teaching)."""

    text = texts.DENOISE

    def __init__(self, **params):
        super().__init__(**params)
        self.map = pn.pane.HoloViews(
            None, linked_axes=False, sizing_mode="stretch_width", min_width=MAP_MIN_W
        )
        self.curve = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        self.slider = pn.widgets.IntSlider.from_param(
            self.results.param.denoise_step, name="Sampler step", width=400
        )
        self.view = DrawnView(self._draw, pn.Row(self.map, self.curve, sizing_mode="stretch_width"))

    def _draw(self) -> str:
        frames = self.results.denoise
        if not frames:
            return "*Generate an ensemble to watch the sampler work.*"
        step = min(self.results.denoise_step, len(frames) - 1)
        f = frames[step]
        field = f["field"].assign_attrs(long_name="generated minus conditioning", units="K")
        t = field["time"].values.item() if "time" in field.coords else None
        when = f", {t.year}-{t.month:02d}" if t is not None else ""
        self.map.object = map_view(
            field,
            title=f"Prediction at step {f['step']} of {f['n_steps']}{when}",
            clim=symmetric_clim(frames[-1]["field"]),
            responsive=True,
        )
        self.curve.object = denoise_curve(frames, step, width=470)  # room for its title
        return ""

    @param.depends("results.version", "results.denoise_step", watch=True)
    def _changed(self):
        self.view.changed()

    def header(self) -> list:
        return [self.slider]


class SweepView(_DrawnTab):
    """What more sampler steps buy: a small request run at several step counts, scored (teaching)."""

    text = texts.SWEEP
    sweep = param.ClassSelector(class_=StepsSweep)

    def __init__(self, **params):
        super().__init__(**params)
        self.plot = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed", width=1290, height=300)
        self.view = DrawnView(self._draw, self.plot)
        self._header = self._controls()  # made once: its job controls poll the sweep

    def _draw(self) -> str:
        rows = self.sweep.rows
        if not rows:
            return "*Press Run sweep: the plots of CRPS, spread ratio and wall time against steps come here.*"
        self.plot.object = sweep_scores_view(rows, width=420, height=280)
        return ""

    @param.depends("sweep.version", watch=True)
    def _changed(self):
        self.view.changed()

    def header(self) -> list:
        return self._header

    def _controls(self) -> list:
        p = self.sweep.param
        return [
            pn.Row(
                pn.widgets.IntInput.from_param(p.n_members, name="Members", width=110),
                pn.widgets.IntInput.from_param(p.n_months, name="Months (the first)", width=130),
                pn.widgets.LiteralInput.from_param(p.steps, name="Step counts", width=160),
                pn.pane.Markdown(
                    "Seed, sampler and mode are those of the page; the true members of the comparison "
                    "score it.",
                    width=380,
                ),
            ),
            pn.Column(JobControls(task=self.sweep, label="Run sweep"), width=500),
        ]


class EnsembleViews(_ResultView):
    """What to look at (region, month, members, anomaly reference) and the tabs of views."""

    sweep = param.ClassSelector(class_=StepsSweep, default=None, allow_None=True)

    def __init__(self, **params):
        super().__init__(**params)
        parts = dict(request=self.request, results=self.results)
        self.maps = MapsView(**parts)
        self.series, self.enso = SeriesView(**parts), EnsoView(**parts)
        self.scores, self.denoise = ScoresView(**parts), DenoiseView(**parts)
        tabs = [
            ("Maps", self.maps),
            ("Regional mean", self.series),
            ("ENSO", self.enso),
            ("Scores", self.scores),
            ("Denoising (teaching)", self.denoise),
        ]
        drawn = [self.series, self.enso, self.scores, self.denoise]
        self.steps = None
        if self.sweep is not None:
            self.steps = SweepView(sweep=self.sweep, **parts)
            tabs.append(("More steps? (teaching)", self.steps))
            drawn.append(self.steps)
        self.tabs = pn.Tabs(*tabs, dynamic=True, sizing_mode="stretch_width")
        for k, v in enumerate(drawn, start=1):
            v.view.show_in(self.tabs, k)
        self._layout = pn.Column(
            synthetic_banner(),
            explain(texts.GENERATOR, width=None),
            self._controls(),
            self.tabs,
            sizing_mode="stretch_width",
        )

    def _controls(self) -> pn.FlexBox:
        p = self.results.param
        self.player = pn.widgets.Player.from_param(
            p.month,
            name="Play the months",
            interval=SPEEDS["2 frames/s"],
            loop_policy="loop",
            show_loop_controls=False,
            show_value=False,
            visible_buttons=["slower", "previous", "pause", "play", "next", "faster"],
            scale_buttons=0.8,
            width=300,
            height=60,
        )
        self.speed = pn.widgets.Select(label="Speed", options=SPEEDS, value=self.player.interval, width=110)
        self.speed.link(self.player, value="interval")
        return pn.FlexBox(
            pn.widgets.Select.from_param(p.region, width=170),
            pn.widgets.TextInput.from_param(p.box, name="Custom box (lat0,lat1,lon0,lon1)", width=230),
            pn.widgets.IntSlider.from_param(p.month, name="Month (index in the period)", width=260),
            self.player,
            self.speed,
            pn.widgets.IntInput.from_param(p.shown_member, name="Generated member", width=130),
            pn.widgets.IntInput.from_param(p.truth_member, name="True member", width=110),
            pn.widgets.IntInput.from_param(p.smoothing, name="Running mean (months)", width=150),
            pn.widgets.Select.from_param(p.anomaly_reference, name="Anomalies from", width=200),
        )

    def __panel__(self):
        return self._layout


class EnsembleControls(_ResultView):
    """The request: conditioning run (embedded member or upload), generation settings, Generate, download."""

    generation = param.ClassSelector(class_=EnsembleGeneration)

    def __init__(self, **params):
        super().__init__(**params)
        req = self.request
        self._member = pn.widgets.IntInput.from_param(
            req.param.cond_member, name="Embedded member (25-29 held out)"
        )
        self._upload = pn.widgets.FileInput(
            accept=".nc,.nc4,.netcdf", multiple=False, sizing_mode="stretch_width"
        )
        self._upload.param.watch(self._on_upload, "value")
        self._upload_note = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._work = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._download = pn.widgets.FileDownload(
            callback=self._netcdf,
            filename="climviz_generated_ensemble.nc",
            label="Download ensemble (NetCDF)",
            button_type="success",
            disabled=True,
            sizing_mode="stretch_width",
        )
        settings = pn.Param(
            req.param,
            parameters=["n_members", "mode", "sampler", "steps", "start_year", "end_year", "seed"],
            widgets={
                "n_members": {"type": pn.widgets.IntInput, "name": "Members to generate"},
                "steps": {"type": pn.widgets.IntInput, "name": "Sampler steps"},
                "start_year": pn.widgets.IntInput,
                "end_year": pn.widgets.IntInput,
                "seed": pn.widgets.IntInput,
            },
            show_name=False,
            sizing_mode="stretch_width",
        )
        self._layout = pn.Column(
            pn.pane.Markdown("#### Conditioning run"),
            pn.widgets.RadioButtonGroup.from_param(req.param.cond_source, button_type="default"),
            self._member,
            self._upload,
            self._upload_note,
            pn.pane.Markdown("#### Generation"),
            settings,
            self._work,
            JobControls(task=self.generation, label="Generate"),
            self._download,
            pn.pane.Markdown(f"<small>Model: {req.device_text()}</small>"),
            width=300,
        )
        self._source_changed()
        self._work_changed()

    def _on_upload(self, event):
        if event.new:
            self.request.load_upload(event.new, self._upload.filename or "upload.nc")

    def _netcdf(self):
        return export_netcdf(self.results)

    @param.depends("request.cond_source", "request.upload_note", watch=True)
    def _source_changed(self):
        embedded = self.request.cond_source == EMBEDDED
        self._member.visible = embedded
        self._upload.visible = self._upload_note.visible = self.request.cond_source == UPLOAD
        self._upload_note.object = self.request.upload_note

    @param.depends(
        "request.n_members",
        "request.steps",
        "request.start_year",
        "request.end_year",
        "request.cond_source",
        watch=True,
    )
    def _work_changed(self):
        self._work.object = self.request.work_text()

    @param.depends("results.version", watch=True)
    def _result_changed(self):
        self._download.disabled = self.results.result is None

    def __panel__(self):
        return self._layout


class EnsemblePage(pn.viewable.Viewer):
    """Generate an ensemble from a conditioning run and compare it with the truth.

    The controls come first; the views are built once the page is up in the browser.
    """

    generation = param.ClassSelector(class_=EnsembleGeneration)

    def __init__(self, generation: EnsembleGeneration, **params):
        super().__init__(generation=generation, **params)
        g = generation
        if not g.available:
            self._layout = unavailable(
                synthetic_banner(),
                f"**Ensemble generator not available.** {g.note} The embedded ensemble can still be "
                "explored in the *Explore the embedded ensemble* tab.",
                texts.GENERATOR,
            )
            return
        parts = dict(request=g.request, results=g.results)
        self._layout = pn.Row(
            EnsembleControls(generation=g, **parts),
            deferred(self.views, until="loaded"),
            sizing_mode="stretch_width",
        )

    def views(self) -> EnsembleViews:
        g = self.generation
        return EnsembleViews(request=g.request, results=g.results, sweep=StepsSweep.for_generation(g))

    def __panel__(self):
        return self._layout
