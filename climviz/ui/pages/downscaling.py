"""The downscaling tab: coarse input, mean model, samples and truth side by side; vorticity, spectra, timings.

Panes are made once; watchers of the :class:`~climviz.ui.downscaling.Downscaling`
state mark the views stale, and a view is drawn when its sub-tab is shown.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import param

from climviz.ui import texts
from climviz.ui.downscaling import Downscaling, wind_speed
from climviz.ui.pages.parts import DrawnView, JobControls, explain, synthetic_banner, unavailable
from climviz.ui.sources import WIND_NOTE
from climviz.ui.views import ke_view, map_view, region_extent, symmetric_clim, timings_view

MAP_MIN_W = 300
MAPS_AXES = "downscaling"  # all maps of the tab show the same region: they zoom together


class RegionMaps(pn.viewable.Viewer):
    """A grid of maps of one frame cut to the region. Panes are added or dropped only when the
    number of fields changes, else their objects are replaced."""

    def __init__(self, **params):
        super().__init__(**params)
        self.title = pn.pane.Markdown("")
        self.grid = pn.GridBox(ncols=2, sizing_mode="stretch_width")

    def show(self, title: str, fields: dict, region, cmap: str, clim) -> None:
        centre, extent = region_extent(region)
        self.title.object = title
        plots = [
            map_view(
                region.select(f) if extent is not None else f,
                title=name,
                cmap=cmap,
                clim=clim,
                responsive=True,
                min_width=MAP_MIN_W,
                central_lon=centre,
                extent=extent,
                axes=MAPS_AXES,
            )
            for name, f in fields.items()
        ]
        panes = list(self.grid.objects)[: len(plots)]
        panes += [
            pn.pane.HoloViews(None, sizing_mode="stretch_width", min_width=MAP_MIN_W)
            for _ in range(len(plots) - len(panes))
        ]
        for pane, plot in zip(panes, plots):
            pane.object = plot
        if len(panes) != len(self.grid.objects):
            self.grid.objects = panes

    def __panel__(self):
        return pn.Column(self.title, self.grid, sizing_mode="stretch_width")


class DownscalingPage(pn.viewable.Viewer):
    """Downscale a synthetic wind case with TAUDiff and the baseline, and look at the outcome."""

    downscaling = param.ClassSelector(class_=Downscaling)

    def __init__(self, downscaling: Downscaling, **params):
        super().__init__(downscaling=downscaling, **params)
        state = downscaling
        if not state.available:
            self._layout = unavailable(
                synthetic_banner(WIND_NOTE), f"**Downscaler not trained yet.** {state.note}", texts.DOWNSCALE
            )
            return
        self.speed_maps, self.vort_maps = RegionMaps(), RegionMaps()
        self.ke_plot = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        self.timing_plot = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        self.timing_table = pn.pane.Markdown("", width=300)
        self.speed = DrawnView(self._draw_speed, self.speed_maps)
        self.vort = DrawnView(self._draw_vorticity, self.vort_maps)
        self.spectra = DrawnView(
            self._draw_spectra,
            pn.Row(self.ke_plot, explain(texts.SPECTRA, width=380)),
            pn.Row(self.timing_plot, pn.Column(self.timing_table, explain(texts.TIMINGS, width=360))),
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
        view_controls = pn.FlexBox(
            pn.widgets.IntSlider.from_param(p.time, name="Frame (6-hourly)", width=300),
            pn.widgets.Select.from_param(p.region, width=170),
            pn.widgets.TextInput.from_param(p.box, name="Custom box (lat0,lat1,lon0,lon1)", width=230),
        )
        self._layout = pn.Row(
            self._controls(),
            pn.Column(synthetic_banner(WIND_NOTE), view_controls, self.tabs, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def _controls(self) -> pn.Column:
        state = self.downscaling
        return pn.Column(
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
            pn.pane.Markdown(
                "<small>The first run of a case simulates it (tens of seconds at 64x128).</small>"
            ),
            JobControls(task=state, label="Downscale"),
            pn.pane.Markdown(f"<small>Model: {state.device_text()}</small>"),
            width=300,
        )

    # ------------------------------------------------------------ drawing
    def _draw_speed(self) -> str:
        s = self.downscaling
        if s.result is None:
            return "*Press Downscale to see the coarse input, mean model, samples and truth.*"
        fields = {k: wind_speed(u, v) for k, (u, v) in s.frame_fields().items()}
        top = float(max(np.nanpercentile(f.values, 99.5) for f in fields.values()))
        title = f"**Wind speed at {s.time_label()}** (same colour scale for all)"
        self.speed_maps.show(title, fields, s.selection(), "viridis", (0.0, top))
        return ""

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
