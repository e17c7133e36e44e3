"""The downscaling tab: coarse input, mean model, samples and truth side by side; vorticity, spectra, timings.

Panes are made once; watchers of the :class:`~climviz.ui.downscaling.Downscaling`
state mark the views stale, and a view is drawn when its sub-tab is shown.
"""

from __future__ import annotations

import functools

import holoviews as hv
import panel as pn
import param

from climviz.ui import texts
from climviz.ui.downscaling import Downscaling, wind_speed
from climviz.ui.pages.parts import DrawnView, JobControls, explain, synthetic_banner, unavailable
from climviz.ui.point_inspect import tap_to_lonlat
from climviz.ui.point_views import point_marker, wind_point_view
from climviz.ui.sources import WIND_NOTE
from climviz.ui.views import (
    cost_quality_view,
    ke_view,
    map_frame_opts,
    map_view,
    region_extent,
    symmetric_clim,
    timings_view,
)

MAP_MIN_W = 300
PLAY_MS = 800  # ms per frame when playing: slow enough to follow one storm
MAPS_AXES = "downscaling"  # all maps of the tab show the same region: they zoom together


class RegionMaps(pn.viewable.Viewer):
    """A grid of maps of one frame cut to the region, each a DynamicMap fed by a ``Pipe``: a new
    frame updates the maps in place (their linked zoom is kept). Panes are added or dropped only
    when the number of fields changes; the maps are made anew only when the region (hence the
    projection) changes. A tap on any map calls ``on_tap(lon, lat)`` (degrees east, north), and
    :meth:`mark` rings a point on every map."""

    def __init__(self, on_tap=None, **params):
        super().__init__(**params)
        self.title = pn.pane.Markdown("")
        self.grid = pn.GridBox(ncols=2, sizing_mode="stretch_width")
        self._on_tap = on_tap
        self._key = None  # what the maps were made for: region, centre, extent, names
        self._centre, self._extent = 180.0, None
        self._point = None
        self.pipes: list[hv.streams.Pipe] = []
        self.panes: list[pn.pane.HoloViews] = []
        self._markers: list[hv.streams.Pipe] = []
        self.taps: list[hv.streams.Tap] = []

    def _make_map(self, title: str):
        """The map of slot ``title``: its field (a DynamicMap fed by ``pipe``) under a ring on the
        inspected point (fed by ``marker``). The tap listens to the ring's DynamicMap: a stream
        finds no source in a DynamicMap that returns a whole overlay."""
        pipe, marker = hv.streams.Pipe(data=None), hv.streams.Pipe(data=self._point)
        centre, extent = self._centre, self._extent
        ring = hv.DynamicMap(functools.partial(_draw_marker, centre=centre), streams=[marker])
        dmap = (hv.DynamicMap(_draw_map, streams=[pipe]) * ring).opts(
            **map_frame_opts(centre, extent, title=title, responsive=True, min_width=MAP_MIN_W)
        )
        tap = hv.streams.Tap(source=ring, x=None, y=None)
        tap.add_subscriber(lambda x, y: self._tapped(x, y, centre))
        self.taps.append(tap)
        return pipe, marker, dmap

    def _tapped(self, x, y, centre: float) -> None:
        if x is not None and y is not None and self._on_tap is not None:
            self._on_tap(*tap_to_lonlat(x, y, centre))

    def show(self, title: str, fields: dict, region, cmap: str, clim) -> None:
        centre, extent = region_extent(region)
        self.title.object = title
        key = (region.name, centre, extent, tuple(fields))
        if key != self._key:  # a new projection, extent or list of maps: new maps in the same panes
            self._key, self._centre, self._extent = key, centre, extent
            self.pipes, self._markers, self.taps = [], [], []
            for pane, name in zip(self.panes, fields):
                pipe, marker, pane.object = self._make_map(name)
                self.pipes.append(pipe)
                self._markers.append(marker)
        for name in list(fields)[len(self.panes) :]:
            pipe, marker, dmap = self._make_map(name)
            self.pipes.append(pipe)
            self._markers.append(marker)
            self.panes.append(pn.pane.HoloViews(dmap, sizing_mode="stretch_width", min_width=MAP_MIN_W))
        for pipe, (name, f) in zip(self.pipes, fields.items()):
            pipe.send(
                dict(
                    field=region.select(f) if extent is not None else f,
                    title=name,
                    cmap=cmap,
                    clim=clim,
                    central_lon=centre,
                    extent=extent,
                )
            )
        panes = self.panes[: len(fields)]
        if list(self.grid.objects) != panes:
            self.grid.objects = panes

    def mark(self, point) -> None:
        """Ring ``point`` (a :class:`~climviz.ui.point_inspect.GridPoint`, or None) on every map."""
        self._point = point
        for marker in self._markers:
            marker.send(point)

    def __panel__(self):
        return pn.Column(self.title, self.grid, sizing_mode="stretch_width")


def cost_quality_text(cq: dict) -> str:
    """The matched target, the cheapest configuration of each method and the speed-up, as markdown."""
    r = cq["result"]
    t = r["target"]
    lines = [
        f"**Speed-up at matched quality: {r['speedup']:.1f}x**"
        if r.get("speedup")
        else "**No speed-up**: one method never reaches the target.",
        "",
        f"Target: KE ratio in [0.8, 1.25] at >= {t['ke_share']:.0%} of degrees and CRPS of u <= {t['crps_u']:.2f} m/s.",
        "",
        "| method | cheapest | s per day |",
        "|---|---|---|",
    ]
    for m in ("TAUDiff", "baseline"):
        b = r.get(m)
        lines.append(
            f"| {m} | {b['steps']} steps ({b['sampler']}) | {b['seconds_per_day']:.2f} |"
            if b
            else f"| {m} | never | - |"
        )
    if cq.get("machine"):
        lines += ["", f"<small>Measured on {cq['machine']}.</small>"]
    return "\n".join(lines)


def _draw_map(data):
    """The map of the ``map_view`` arguments sent down a pipe (DynamicMap callback)."""
    if data is None:
        return hv.Overlay()
    return map_view(**data, responsive=True, min_width=MAP_MIN_W, axes=MAPS_AXES, dynamic=False)


def _draw_marker(data, centre: float):
    """A ring on the inspected point ``data`` (nothing when None), in display coordinates."""
    return point_marker(data, central_lon=centre)


class DownscalingPage(pn.viewable.Viewer):
    """Downscale a synthetic wind case with TAUDiff and the baseline, and look at the outcome."""

    downscaling = param.ClassSelector(class_=Downscaling)

    def __init__(self, downscaling: Downscaling, **params):
        super().__init__(downscaling=downscaling, **params)
        state = downscaling
        self._top = None  # (result, top of the wind-speed colour scale)
        if not state.available:
            self._layout = unavailable(
                synthetic_banner(WIND_NOTE), f"**Downscaler not trained yet.** {state.note}", texts.DOWNSCALE
            )
            return
        self.speed_maps, self.vort_maps = RegionMaps(on_tap=self._tapped), RegionMaps(on_tap=self._tapped)
        self.point_plot = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        self.point_note = pn.pane.Markdown(
            "*Tap a map to see the wind speed at that grid point through the frames.*",
            sizing_mode="stretch_width",
        )
        self.ke_plot = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        self.timing_plot = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        self.timing_table = pn.pane.Markdown("", width=300)
        self.speed = DrawnView(
            self._draw_speed,
            self.speed_maps,
            pn.Column(self.point_note, self.point_plot, sizing_mode="stretch_width"),
        )
        self.vort = DrawnView(self._draw_vorticity, self.vort_maps)
        self.spectra = DrawnView(
            self._draw_spectra,
            pn.Row(self.ke_plot, explain(texts.SPECTRA, width=380)),
            pn.Row(self.timing_plot, pn.Column(self.timing_table, explain(texts.TIMINGS, width=360))),
            self._cost_quality(),
        )
        self.tabs = pn.Tabs(
            ("Wind speed", pn.Column(self.speed, explain(texts.DOWNSCALE, width=None))),
            ("Vorticity", pn.Column(self.vort, explain(texts.VORTICITY, width=None))),
            ("Spectra and timings", self.spectra),
            dynamic=True,
            sizing_mode="stretch_width",
        )
        for k, view in enumerate((self.speed, self.vort, self.spectra)):
            view.show_in(self.tabs, k)
        p = state.param
        self.player = pn.widgets.Player.from_param(
            p.time,
            name="Frame (6-hourly): play, pause or step",
            interval=PLAY_MS,
            loop_policy="loop",
            show_loop_controls=False,
            show_value=True,
            visible_buttons=["previous", "play", "pause", "next"],
            width=320,
        )
        view_controls = pn.FlexBox(
            self.player,
            pn.widgets.Select.from_param(p.region, width=170),
            pn.widgets.TextInput.from_param(p.box, name="Custom box (lat0,lat1,lon0,lon1)", width=230),
        )
        self._layout = pn.Row(
            self._controls(),
            pn.Column(synthetic_banner(WIND_NOTE), view_controls, self.tabs, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        self._point_changed()  # a point chosen before the page was built (a shared link)

    def _controls(self) -> pn.Column:
        state = self.downscaling
        return pn.Column(
            pn.pane.Markdown("#### Case and sampling"),
            pn.Param(
                state.param,
                parameters=[
                    "case",
                    "frames",
                    "n_samples",
                    "sampler",
                    "steps",
                    "noise_correlation",
                    "seed",
                    "run_baseline",
                ],
                widgets={
                    "frames": pn.widgets.IntSlider,
                    "steps": pn.widgets.IntSlider,
                    "noise_correlation": pn.widgets.FloatSlider,
                    "seed": pn.widgets.IntInput,
                },
                show_name=False,
                sizing_mode="stretch_width",
            ),
            pn.pane.Markdown(
                "<small>The first run of a case simulates it (tens of seconds at 64x128).</small>"
            ),
            JobControls(task=state, label="Downscale"),
            pn.pane.Markdown(f"<small>Model: {state.device_text()}</small>"),
            width=300,
        )

    def _cost_quality(self):
        """The measured cost-quality curve and matched-quality speed-up shipped with the checkpoint."""
        cq = self.downscaling.cost_quality()
        if cq is None:
            return pn.pane.Markdown(
                "*No cost-quality measurement ships with this checkpoint "
                "(`python bench/bench_downscale_quality.py -o <model-dir>/cost_quality.json`).*"
            )
        return pn.Row(
            pn.pane.HoloViews(cost_quality_view(cq["points"]), linked_axes=False, sizing_mode="fixed"),
            pn.Column(
                pn.pane.Markdown(cost_quality_text(cq), width=360),
                explain(texts.COST_QUALITY, width=360),
            ),
        )

    # ------------------------------------------------------------ drawing
    def _draw_speed(self) -> str:
        s = self.downscaling
        if s.result is None:
            return "*Press Downscale to see the coarse input, mean model, samples and truth.*"
        fields = {k: wind_speed(u, v) for k, (u, v) in s.frame_fields().items()}
        if self._top is None or self._top[0] is not s.result:  # one colour scale for all frames
            self._top = (s.result, s.speed_top())
        title = f"**Wind speed at {s.time_label()}** (same colour scale for all maps and frames)"
        self.speed_maps.show(title, fields, s.selection(), "viridis", (0.0, self._top[1]))
        self._draw_point()
        return ""

    def _tapped(self, lon: float, lat: float) -> None:
        self.downscaling.param.update(point_lon=round(lon, 2), point_lat=round(lat, 2))

    def _draw_point(self) -> None:
        s = self.downscaling
        wp = s.wind_point()
        self.point_plot.visible = wp is not None
        self.point_note.visible = wp is None
        if wp is not None:
            self.point_plot.object = wind_point_view(wp, width=720)

    @param.depends("downscaling.point_lon", "downscaling.point_lat", watch=True)
    def _point_changed(self):
        if not self.downscaling.available:
            return
        point = self.downscaling.point()
        self.speed_maps.mark(point)
        self.vort_maps.mark(point)
        if self.downscaling.result is not None:
            self._draw_point()

    def _draw_vorticity(self) -> str:
        s = self.downscaling
        if s.result is None:
            return "*Press Downscale first.*"
        z = s.vorticity()
        title = f"**Relative vorticity at {s.time_label()}** (1e-5 s-1)"
        self.vort_maps.show(title, z, s.selection(), "RdBu_r", symmetric_clim(z["truth"]))
        return ""

    def _draw_spectra(self) -> str:
        s = self.downscaling
        if s.result is None:
            return "*Press Downscale first.*"
        self.ke_plot.object = ke_view(s.result["ke"])
        rows = s.timings()
        self.timing_plot.object = timings_view(rows)
        self.timing_table.object = "| model | stage | seconds |\n|---|---|---|\n" + "\n".join(
            f"| {r['model']} | {r['stage']} | {r['seconds']:.2f} |" for r in rows
        )
        return ""

    @param.depends(
        "downscaling.result", "downscaling.time", "downscaling.region", "downscaling.box", watch=True
    )
    def _frame_changed(self):
        if not self.downscaling.available:  # no views to draw
            return
        self.speed.changed()
        self.vort.changed()

    @param.depends("downscaling.result", watch=True)
    def _result_changed(self):
        if self.downscaling.available:
            self.spectra.changed()

    def __panel__(self):
        return self._layout
