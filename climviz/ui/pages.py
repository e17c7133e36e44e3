"""Panel layouts: widgets from the Param state objects, panes from the views.

Each page function takes a state object and returns a Panel layout; a page that
runs jobs polls its state from a periodic callback of the session it belongs
to, so background threads never touch the browser document.
"""

from __future__ import annotations

import functools
import logging

import holoviews as hv
import numpy as np
import panel as pn

from climviz.data.regions import get_region
from climviz.ui import texts
from climviz.ui.downscaling import Downscaling, wind_speed
from climviz.ui.explorer import EnsembleExplorer, decimal_year
from climviz.ui.generation import EMBEDDED, UPLOAD, EnsembleGeneration
from climviz.ui.sources import SYNTHETIC_NOTE, WIND_NOTE
from climviz.ui.views import (
    acf_view,
    bars_view,
    denoise_curve,
    ke_view,
    map_view,
    nino_view,
    observed_global_view,
    placeholder_map,
    plume_view,
    series_view,
    spectrum_view,
    symmetric_clim,
    timings_view,
)

hv.extension("bokeh")
log = logging.getLogger(__name__)

MAP_W, MAP_H = 360, 205
POLL_MS = 300
ENSO_EXTENT = (-60.0, -25.0, 110.0, 25.0)  # tropical Pacific in display coordinates (lon - 180)


def safe(fn):
    """A view function that shows a warning in the page instead of raising (the session lives on)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            log.exception("view %s failed", fn.__name__)
            return pn.pane.Alert(
                f"This view could not be drawn: {type(err).__name__}: {err}", alert_type="warning"
            )

    return wrapper


def _drawn_view(draw, *panes) -> tuple[pn.Column, callable]:
    """``(layout, redraw)``: ``panes`` built once, under a note. ``redraw()`` calls ``draw()``, which
    updates the panes' objects and returns '', or returns a sentence shown in their place."""
    note = pn.pane.Markdown("", visible=False, sizing_mode="stretch_width")

    def redraw():
        try:
            text = draw()
        except Exception as err:
            log.exception("view %s failed", draw.__name__)
            text = f"**This view could not be drawn:** {type(err).__name__}: {err}"
        note.object, note.visible = text, bool(text)
        for pane in panes:
            pane.visible = not text

    return pn.Column(note, *panes, sizing_mode="stretch_width"), redraw


def _redraw_when_shown(tabs: pn.Tabs, index: int, redraw, state, params: list[str]) -> None:
    """Call ``redraw()`` when ``params`` of ``state`` change while tab ``index`` is shown, or when the tab
    is opened after they changed: a hidden tab costs a session nothing."""
    stale = [True]

    def refresh(*_):
        if stale[0] and tabs.active == index:
            stale[0] = False
            redraw()

    def changed(*_):
        stale[0] = True
        refresh()

    state.param.watch(changed, params)
    tabs.param.watch(refresh, "active")
    refresh()


def deferred(page, *args, until: str = "shown") -> pn.param.ParamFunction:
    """``page(*args)``, built later: ``until="shown"``, when first drawn (in a ``dynamic`` Tabs, when
    its tab is first opened); ``until="loaded"``, once the page is up in the browser, so that what
    comes before it is usable first."""
    return pn.param.ParamFunction(
        lambda: page(*args), lazy=until == "shown", defer_load=until == "loaded", sizing_mode="stretch_width"
    )


def synthetic_banner(text: str = SYNTHETIC_NOTE) -> pn.pane.Alert:
    return pn.pane.Alert(text, alert_type="warning", sizing_mode="stretch_width")


def explain(text: str, width: int = 300) -> pn.pane.Markdown:
    return pn.pane.Markdown(text, width=width, styles={"font-size": "0.9em", "color": "#333"})


def _alert(state, name: str = "error") -> pn.pane.Alert:
    pane = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")

    def show(*_):
        pane.object = getattr(state, name)
        pane.visible = bool(getattr(state, name))

    state.param.watch(show, name)
    show()
    return pane


def _job_controls(state, label: str):
    """Run / Cancel buttons, progress bar and status line driving ``state.start/cancel/poll``."""
    run = pn.widgets.Button(name=label, button_type="primary", width=130)
    cancel = pn.widgets.Button(name="Cancel", button_type="light", width=90, disabled=True)
    bar = pn.indicators.Progress(
        value=0, max=100, sizing_mode="stretch_width", bar_color="primary", visible=False
    )
    status = pn.pane.Markdown("", sizing_mode="stretch_width")
    holder = {}

    def tick():
        if not state.poll() and holder.get("cb") is not None:
            holder.pop("cb").stop()

    def on_run(_):
        if state.start():
            holder["cb"] = pn.state.add_periodic_callback(tick, period=POLL_MS)

    def sync(*_):
        bar.value = int(round(100 * state.progress))
        bar.visible = state.running
        run.disabled = state.running
        cancel.disabled = not state.running
        status.object = state.status

    def on_destroyed(_ctx):  # a closed tab must not keep computing
        state.cancel()

    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(on_destroyed)
    run.on_click(on_run)
    cancel.on_click(lambda _: state.cancel())
    state.param.watch(sync, ["progress", "running", "status"])
    sync()
    return pn.Column(pn.Row(run, cancel), bar, status, _alert(state), sizing_mode="stretch_width")


# ======================================================================== ensemble tab
def ensemble_page(state: EnsembleGeneration) -> pn.viewable.Viewable:
    """Generate an ensemble from a conditioning run and compare it with the truth."""
    if not state.available:
        note = pn.pane.Alert(
            f"**Ensemble generator not available.** {state.note} The embedded ensemble can "
            "still be explored in the *Explore the embedded ensemble* tab.",
            alert_type="info",
        )
        return pn.Column(
            synthetic_banner(), note, explain(texts.GENERATOR, width=700), sizing_mode="stretch_width"
        )
    return pn.Row(
        _ensemble_controls(state),
        deferred(_ensemble_views, state, until="loaded"),
        sizing_mode="stretch_width",
    )


def _ensemble_controls(state: EnsembleGeneration) -> pn.Column:
    source = pn.widgets.RadioButtonGroup.from_param(state.param.cond_source, button_type="default")
    member = pn.widgets.IntInput.from_param(state.param.cond_member, name="Embedded member (25-29 held out)")
    upload = pn.widgets.FileInput(accept=".nc,.nc4,.netcdf", multiple=False, sizing_mode="stretch_width")
    upload_note = pn.pane.Markdown("", sizing_mode="stretch_width")

    def on_upload(event):
        if event.new:
            state.load_upload(event.new, upload.filename or "upload.nc")

    upload.param.watch(on_upload, "value")
    state.param.watch(lambda e: setattr(upload_note, "object", e.new), "upload_note")

    def visible(*_):
        member.visible = state.cond_source == EMBEDDED
        upload.visible = upload_note.visible = state.cond_source == UPLOAD

    state.param.watch(visible, "cond_source")
    visible()
    widgets = pn.Param(
        state.param,
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

    def work(n, steps, y0, y1, src):
        w, cap = state.work(), state.work_cap()
        flag = "**over the cap**" if w > cap else "ok"
        where = "; runs on the Dask cluster" if state.uses_cluster() else ""
        return (
            f"Work: {n} members x {state.n_months()} months x {steps} steps = **{w:,}** "
            f"(cap {cap:,}: {flag}{where})"
        )

    work_md = pn.pane.Markdown(
        pn.bind(
            work,
            state.param.n_members,
            state.param.steps,
            state.param.start_year,
            state.param.end_year,
            state.param.cond_source,
        ),
        sizing_mode="stretch_width",
    )
    download = pn.widgets.FileDownload(
        callback=state.export_netcdf,
        filename="climviz_generated_ensemble.nc",
        label="Download ensemble (NetCDF)",
        button_type="success",
        disabled=True,
        sizing_mode="stretch_width",
    )
    state.param.watch(lambda e: setattr(download, "disabled", state.result is None), "version")
    return pn.Column(
        pn.pane.Markdown("#### Conditioning run"),
        source,
        member,
        upload,
        upload_note,
        pn.pane.Markdown("#### Generation"),
        widgets,
        work_md,
        _job_controls(state, "Generate"),
        download,
        pn.pane.Markdown(f"<small>Model: {state.device_text()}</small>"),
        width=310,
    )


def _view_controls(state) -> pn.Row:
    region = pn.widgets.Select.from_param(state.param.region, width=170)
    box = pn.widgets.TextInput.from_param(state.param.box, name="Custom box (lat0,lat1,lon0,lon1)", width=230)
    month = pn.widgets.IntSlider.from_param(state.param.month, name="Month (index in the period)", width=260)
    member = pn.widgets.IntInput.from_param(state.param.shown_member, name="Generated member", width=130)
    truth = pn.widgets.IntInput.from_param(state.param.truth_member, name="True member", width=110)
    smooth = pn.widgets.IntInput.from_param(state.param.smoothing, name="Running mean (months)", width=150)
    return pn.Row(region, box, month, member, truth, smooth, sizing_mode="stretch_width")


def _ensemble_views(state: EnsembleGeneration) -> pn.Column:
    stream_params = [
        "version",
        "month",
        "shown_member",
        "truth_member",
        "region",
        "box",
        "cond_member",
        "cond_source",
        "start_year",
        "end_year",
    ]
    memo: dict = {}

    def fields():
        key = tuple(getattr(state, p) for p in stream_params)
        if memo.get("key") != key:
            try:
                f = state.map_fields()
            except Exception as err:  # e.g. an empty period: say so on the map titles
                memo.update(key=key, fields={}, clim=(-1, 1), label=str(err))
                return memo
            anom = [v for k, v in f.items() if k != "spread"]
            memo.update(key=key, fields=f, clim=symmetric_clim(*anom), label=state.month_label())
        return memo

    like = {}

    def make_map(name, title, cmap="RdBu_r"):
        def draw(**_):
            m = fields()
            f = m["fields"].get(name)
            box = state.selection() if state.region != "Global" else None
            if f is None:
                base = like.setdefault("f", state.shown_conditioning().isel(time=0))
                base = base.assign_attrs(
                    long_name="spread (std over members)" if name == "spread" else "anomaly", units="K"
                )
                why = "press Generate" if name != "truth" else "no true member for an uploaded run"
                return placeholder_map(
                    base, f"{title}: {why}", width=MAP_W, height=MAP_H, box=box, dynamic=False
                )
            clim = None if name == "spread" else m["clim"]
            tools = ("hover", "box_select") if name == "cond" else ("hover",)
            return map_view(
                f,
                title=f"{title}, {m['label']}",
                cmap=cmap,
                clim=clim,
                width=MAP_W,
                height=MAP_H,
                box=box,
                tools=tools,
                dynamic=False,
            )

        return hv.DynamicMap(draw, streams=[hv.streams.Params(parameterized=state, parameters=stream_params)])

    cond_map = make_map("cond", "Conditioning run")
    bounds = hv.streams.BoundsXY(source=cond_map, bounds=None)

    def on_box(bounds):
        if bounds is not None:
            x0, y0, x1, y1 = bounds
            state.set_box(x0 + 180.0, y0, x1 + 180.0, y1)  # display x is lon - 180 (Pacific-centred)

    bounds.add_subscriber(on_box)
    cond, member, truth, mean, spread = [
        pn.pane.HoloViews(m, sizing_mode="fixed")
        for m in (
            cond_map,
            make_map("member", "Generated member"),
            make_map("truth", "Held-out true member"),
            make_map("mean", "Generated mean"),
            make_map("spread", "Generated spread", cmap="viridis"),
        )
    ]
    note = explain(texts.MAPS, width=MAP_W - 20)
    maps = pn.GridBox(cond, truth, note, ncols=3)  # the generated maps join with the first result

    def add_generated(*_):
        if state.result is not None and len(maps.objects) < 6:
            maps.objects = [cond, member, truth, mean, spread, note]

    state.param.watch(add_generated, "version")
    add_generated()

    series_plot = pn.pane.HoloViews(None, sizing_mode="fixed")

    def series():
        try:
            s = state.regional_series()
        except Exception as err:
            return f"No time series: {err}"
        smoothing = state.smoothing
        series_plot.object = series_view(
            s,
            state.eruptions(),
            title=f"{state.selection().name}: regional-mean "
            "anomaly" + (f" ({smoothing}-month running mean)" if smoothing > 1 else ""),
        )
        return ""

    @safe
    def enso(version):
        a = state.analysis
        if state.result is None or not a:
            return pn.pane.Markdown("*Generate an ensemble to see its ENSO.*")
        items = []
        notes = a.get("notes", [])
        if "nino_gen" in a:
            years = decimal_year(a["nino_gen"]["time"])
            psd, acf = {"generated": a["psd_gen"]}, {"generated": a["acf_gen"]}
            if "psd_ref" in a:
                psd["true"], acf["true"] = a["psd_ref"], a["acf_ref"]
            if a.get("observed"):  # dashed reference: the real Nino3.4
                psd[a["observed"]["label"]], acf[a["observed"]["label"]] = (
                    a["observed"]["psd"],
                    a["observed"]["acf"],
                )
            items.append(
                pn.pane.HoloViews(
                    nino_view(years, a["nino_cond"], a["nino_gen"], a.get("nino_ref"), width=820)
                )
            )
            items.append(
                pn.Row(
                    pn.pane.HoloViews(spectrum_view(psd, width=420), linked_axes=False),
                    pn.pane.HoloViews(acf_view(acf, width=400), linked_axes=False),
                )
            )
        eof_maps = []
        for key, title in (("eof_gen", "generated"), ("eof_ref", "true")):
            ds = a.get(key)
            if ds is not None:
                eof_maps.append(
                    ds["eof"]
                    .assign_attrs(long_name="EOF 1", units="K")
                    .pipe(
                        lambda e, t=title, d=ds: (
                            e,
                            f"Leading EOF, {t} ({float(d['variance_fraction']):.0%})",
                        )
                    )
                )
        if eof_maps:
            clim = symmetric_clim(*[e for e, _ in eof_maps])
            panes = [
                pn.pane.HoloViews(
                    map_view(e, title=t, clim=clim, width=460, height=200, extent=ENSO_EXTENT),
                    linked_axes=False,
                )
                for e, t in eof_maps
            ]
            corr = (
                f"Pattern correlation of the two leading EOFs: **{a['eof_corr']:.2f}**"
                if "eof_corr" in a
                else ""
            )
            items.append(pn.Row(*panes))
            items.append(pn.pane.Markdown(corr))
        for n in notes:
            items.append(pn.pane.Alert(n, alert_type="info"))
        return pn.Column(*items)

    score_table = pn.pane.Markdown("", width=460)
    score_bars = pn.pane.HoloViews(None, sizing_mode="fixed")

    def scores():
        if state.result is None:
            return "*Generate an ensemble to score it.*"
        try:
            s = state.scores()
        except Exception as err:
            return f"No scores for this selection: {err}"
        if s is None:
            return "*Scores need a true ensemble: only for embedded conditioning runs.*"
        held = "held out of training" if s["truth_held_out"] else "seen in training"
        score_table.object = (
            f"| score ({s['region']}, whole period) | generated | true ensemble (ideal) |\n|---|---|---|\n"
            f"| spread ratio (generated / true) | **{s['spread_ratio']:.2f}** | 1 |\n"
            f"| CRPS vs true member {s['truth_member']} ({held}), K | **{s['crps']:.3f}** | {s['crps_reference']:.3f} |\n"
            f"| members | {s['n_generated']} | {s['n_reference']} |"
        )
        score_bars.object = bars_view(s["rank_histogram"])
        return ""

    denoise_map = pn.pane.HoloViews(None, sizing_mode="fixed")
    denoise_plot = pn.pane.HoloViews(None, sizing_mode="fixed")

    def denoise():
        frames = state.denoise
        if not frames:
            return "*Generate an ensemble to watch the sampler work.*"
        step = min(state.denoise_step, len(frames) - 1)
        f = frames[step]
        field = f["field"].assign_attrs(long_name="generated minus conditioning", units="K")
        clim = symmetric_clim(frames[-1]["field"])
        t = field["time"].values.item() if "time" in field.coords else None
        when = f", {t.year}-{t.month:02d}" if t is not None else ""
        denoise_map.object = map_view(
            field,
            title=f"Prediction at step {f['step']} of {f['n_steps']}{when}",
            clim=clim,
            width=520,
            height=280,
        )
        denoise_plot.object = denoise_curve(frames, step)
        return ""

    step_slider = pn.widgets.IntSlider.from_param(state.param.denoise_step, name="Sampler step", width=400)
    series_layout, redraw_series = _drawn_view(series, series_plot)
    scores_layout, redraw_scores = _drawn_view(scores, pn.Row(score_table, score_bars))
    denoise_layout, redraw_denoise = _drawn_view(denoise, pn.Row(denoise_map, denoise_plot))
    tabs = pn.Tabs(
        ("Maps", maps),
        ("Regional mean", pn.Column(explain(texts.SERIES, width=None), series_layout)),
        (
            "ENSO",
            pn.Column(
                explain(texts.ENSO, width=None), pn.panel(pn.bind(enso, state.param.version), lazy=True)
            ),
        ),  # drawn when shown
        ("Scores", pn.Column(explain(texts.SCORES, width=None), scores_layout)),
        ("Denoising (teaching)", pn.Column(explain(texts.DENOISE, width=None), step_slider, denoise_layout)),
        dynamic=True,
        sizing_mode="stretch_width",
    )
    _redraw_when_shown(
        tabs,
        1,
        redraw_series,
        state,
        [
            "version",
            "region",
            "box",
            "smoothing",
            "truth_member",
            "cond_member",
            "cond_source",
            "start_year",
            "end_year",
        ],
    )
    _redraw_when_shown(tabs, 3, redraw_scores, state, ["version", "region", "box", "truth_member"])
    _redraw_when_shown(tabs, 4, redraw_denoise, state, ["version", "denoise_step"])
    return pn.Column(
        synthetic_banner(),
        explain(texts.GENERATOR, width=None),
        _view_controls(state),
        tabs,
        sizing_mode="stretch_width",
    )


# ======================================================================== downscaling tab
def downscaling_page(state: Downscaling) -> pn.viewable.Viewable:
    """Coarse input, mean model, samples and truth side by side; vorticity, spectra, timings."""
    if not state.available:
        note = pn.pane.Alert(f"**Downscaler not trained yet.** {state.note}", alert_type="info")
        return pn.Column(
            synthetic_banner(WIND_NOTE),
            note,
            explain(texts.DOWNSCALE, width=700),
            sizing_mode="stretch_width",
        )
    controls = pn.Column(
        pn.pane.Markdown("#### Case and sampling"),
        pn.Param(
            state.param,
            parameters=["case", "frames", "n_samples", "sampler", "steps", "seed", "run_baseline"],
            widgets={
                "frames": pn.widgets.IntSlider,
                "steps": pn.widgets.IntSlider,
                "seed": pn.widgets.IntInput,
            },
            show_name=False,
            sizing_mode="stretch_width",
        ),
        pn.pane.Markdown("<small>The first run of a case simulates it (tens of seconds at 64x128).</small>"),
        _job_controls(state, "Downscale"),
        pn.pane.Markdown(f"<small>Model: {state.device_text()}</small>"),
        width=310,
    )
    view = pn.Row(
        pn.widgets.IntSlider.from_param(state.param.time, name="Frame (6-hourly)", width=300),
        pn.widgets.Select.from_param(state.param.region, width=170),
        pn.widgets.TextInput.from_param(state.param.box, name="Custom box (lat0,lat1,lon0,lon1)", width=230),
    )

    def region_view():
        r = state.selection()
        if r.is_global_lon and r.lat_max - r.lat_min >= 179:
            return 180.0, None, r
        centre = (r.lon_min + ((r.lon_max - r.lon_min) % 360.0) / 2.0) % 360.0
        half = ((r.lon_max - r.lon_min) % 360.0 or 360.0) / 2.0
        return centre, (-half, r.lat_min, half, r.lat_max), r

    def region_maps(grid: pn.GridBox, fields: dict, cmap, clim) -> None:
        """One map per field in ``grid``, cut to the region; panes are added or dropped only when
        the number of fields changes, else their objects are replaced."""
        centre, extent, r = region_view()
        plots = [
            map_view(
                r.select(f) if extent is not None else f,
                title=name,
                cmap=cmap,
                clim=clim,
                width=360,
                height=200 if extent is None else 280,
                central_lon=centre,
                extent=extent,
            )
            for name, f in fields.items()
        ]
        panes = list(grid.objects)[: len(plots)]
        panes += [pn.pane.HoloViews(None, linked_axes=False) for _ in range(len(plots) - len(panes))]
        for pane, plot in zip(panes, plots):
            pane.object = plot
        if len(panes) != len(grid.objects):
            grid.objects = panes

    speed_title, speed_grid = pn.pane.Markdown(""), pn.GridBox(ncols=3)

    def speed():
        if state.result is None:
            return "*Press Downscale to see the coarse input, mean model, samples and truth.*"
        fields = {k: wind_speed(u, v) for k, (u, v) in state.frame_fields().items()}
        top = float(max(np.nanpercentile(f.values, 99.5) for f in fields.values()))
        speed_title.object = f"**Wind speed at {state.time_label()}** (same colour scale for all)"
        region_maps(speed_grid, fields, "viridis", (0.0, top))
        return ""

    vort_title, vort_grid = pn.pane.Markdown(""), pn.GridBox(ncols=3)

    def vort():
        if state.result is None:
            return "*Press Downscale first.*"
        z = state.vorticity()
        vort_title.object = f"**Relative vorticity at {state.time_label()}** (1e-5 s-1)"
        region_maps(vort_grid, z, "RdBu_r", symmetric_clim(z["truth"]))
        return ""

    ke_plot, timing_plot = pn.pane.HoloViews(None), pn.pane.HoloViews(None)
    timing_table = pn.pane.Markdown("", width=300)

    def spectra_and_timings():
        if state.result is None:
            return "*Press Downscale first.*"
        ke_plot.object = ke_view(state.result["ke"])
        rows = state.timings()
        timing_plot.object = timings_view(rows)
        timing_table.object = "| model | stage | seconds |\n|---|---|---|\n" + "\n".join(
            f"| {r['model']} | {r['stage']} | {r['seconds']:.2f} |" for r in rows
        )
        return ""

    speed_layout, redraw_speed = _drawn_view(speed, speed_title, speed_grid)
    vort_layout, redraw_vort = _drawn_view(vort, vort_title, vort_grid)
    spectra_layout, redraw_spectra = _drawn_view(
        spectra_and_timings,
        pn.Row(ke_plot, explain(texts.SPECTRA, width=380)),
        pn.Row(timing_plot, pn.Column(timing_table, explain(texts.TIMINGS, width=360))),
    )
    tabs = pn.Tabs(
        ("Wind speed", pn.Column(speed_layout, explain(texts.DOWNSCALE, width=None))),
        ("Vorticity", pn.Column(vort_layout, explain(texts.VORTICITY, width=None))),
        ("Spectra and timings", spectra_layout),
        dynamic=True,
        sizing_mode="stretch_width",
    )
    frame = ["result", "time", "region", "box"]
    _redraw_when_shown(tabs, 0, redraw_speed, state, frame)
    _redraw_when_shown(tabs, 1, redraw_vort, state, frame)
    _redraw_when_shown(tabs, 2, redraw_spectra, state, ["result"])
    return pn.Row(
        controls,
        pn.Column(synthetic_banner(WIND_NOTE), view, tabs, sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )


# ======================================================================== explorer tab
def explorer_page(state: EnsembleExplorer | None = None):
    """The embedded-ensemble explorer: controls, a month's map, the regional plume."""
    state = state or EnsembleExplorer()

    def _map(members, member, year, month, anomaly):
        field = state.month_field()
        what = "anomaly vs 1850-1879" if anomaly else "temperature"
        return map_view(
            field,
            title=f"Member {member}, {year}-{month:02d}: {what}",
            cmap="RdBu_r" if anomaly else "inferno",
        )

    def _plume(members, region, smoothing):
        series = state.regional_series()
        years = decimal_year(series["time"])
        r = get_region(region)
        return plume_view(
            series,
            state.plume_stats(),
            years,
            state.eruptions(),
            title=f"{r.name} mean, {members} members ({smoothing}-month running mean)",
            ylabel="temperature (K)",
        )

    map_pane = pn.pane.HoloViews(
        pn.bind(
            _map,
            state.param.members,
            state.param.member,
            state.param.year,
            state.param.month,
            state.param.anomaly,
        ),
        sizing_mode="fixed",
    )
    plume_pane = pn.pane.HoloViews(
        pn.bind(_plume, state.param.members, state.param.region, state.param.smoothing),
        sizing_mode="fixed",
        linked_axes=False,
    )  # K and anomaly plots share dimension names; linked, one squashes the other
    observed_pane = pn.pane.HoloViews(
        pn.bind(
            lambda members: observed_global_view(state.observed_comparison(), state.eruptions()),
            state.param.members,
        ),
        sizing_mode="fixed",
        linked_axes=False,
    )
    observed_note = pn.pane.Markdown(
        "The black line is **observed**: HadCRUT5 global annual mean near-surface temperature "
        "(Met Office Hadley Centre / CRU; Morice et al. 2021; Open Government Licence v3.0), with its 95% "
        "range. The blue lines are the **synthetic** embedded members, each as an anomaly from its own "
        "1961-1990 mean. Observed year-to-year swings include real El Ninos and La Ninas, which the "
        "synthetic members draw at random.",
        sizing_mode="stretch_width",
    )
    controls = pn.Param(
        state.param,
        parameters=["members", "member", "region", "year", "month", "smoothing", "anomaly"],
        widgets={"year": pn.widgets.IntSlider, "month": pn.widgets.IntSlider},
        show_name=False,
    )
    return controls, pn.Column(synthetic_banner(), map_pane, plume_pane, observed_pane, observed_note)


def explorer_tab(state: EnsembleExplorer | None = None) -> pn.Row:
    controls, main = explorer_page(state)
    return pn.Row(
        pn.Column(pn.pane.Markdown("#### Embedded ensemble"), controls, width=310),
        main,
        sizing_mode="stretch_width",
    )
