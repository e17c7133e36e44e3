"""The explorer tab: the embedded ensemble's maps, regional plume and the observed global mean.

Panes are made once; watchers of the :class:`~climviz.ui.explorer.EnsembleExplorer`
state give them new plots when what they show changes.
"""

from __future__ import annotations

import panel as pn
import param

from climviz.data.grid import decimal_years
from climviz.data.regions import get_region
from climviz.ui.explorer import EnsembleExplorer
from climviz.ui.pages.parts import synthetic_banner
from climviz.ui.views import map_view, observed_global_view, plume_view

OBSERVED_NOTE = (
    "The black line is **observed**: HadCRUT5 global annual mean near-surface temperature "
    "(Met Office Hadley Centre / CRU; Morice et al. 2021; Open Government Licence v3.0), with its 95% "
    "range. The blue lines are the **synthetic** embedded members, each as an anomaly from its own "
    "1961-1990 mean. Observed year-to-year swings include real El Ninos and La Ninas, which the "
    "synthetic members draw at random."
)


class ExplorerPage(pn.viewable.Viewer):
    """Controls, a month's map, the regional plume and the observed global mean."""

    explorer = param.ClassSelector(class_=EnsembleExplorer)

    def __init__(self, explorer: EnsembleExplorer | None = None, **params):
        super().__init__(explorer=explorer or EnsembleExplorer(), **params)
        self.map_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_width=300)
        # the K plume and the anomaly plot share dimension names: linked, one would squash the other
        self.plume_pane = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        self.observed_pane = pn.pane.HoloViews(None, linked_axes=False, sizing_mode="fixed")
        controls = pn.Param(
            self.explorer.param,
            parameters=["members", "member", "region", "year", "month", "smoothing", "anomaly"],
            widgets={"year": pn.widgets.IntSlider, "month": pn.widgets.IntSlider},
            show_name=False,
        )
        self._layout = pn.Row(
            pn.Column(pn.pane.Markdown("#### Embedded ensemble"), controls, width=300),
            pn.Column(
                synthetic_banner(),
                self.map_pane,
                self.plume_pane,
                self.observed_pane,
                pn.pane.Markdown(OBSERVED_NOTE, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
        self._draw_map()
        self._draw_plume()
        self._draw_observed()

    @param.depends(
        "explorer.members",
        "explorer.member",
        "explorer.year",
        "explorer.month",
        "explorer.anomaly",
        watch=True,
    )
    def _draw_map(self):
        e = self.explorer
        what = "anomaly vs 1850-1879" if e.anomaly else "temperature"
        self.map_pane.object = map_view(
            e.month_field(),
            title=f"Member {e.member}, {e.year}-{e.month:02d}: {what}",
            cmap="RdBu_r" if e.anomaly else "inferno",
            responsive=True,
        )

    @param.depends("explorer.members", "explorer.region", "explorer.smoothing", watch=True)
    def _draw_plume(self):
        e = self.explorer
        series = e.regional_series()
        self.plume_pane.object = plume_view(
            series,
            e.plume_stats(),
            decimal_years(series["time"].values),
            e.eruptions(),
            title=f"{get_region(e.region).name} mean, {e.members} members ({e.smoothing}-month running mean)",
            ylabel="temperature (K)",
        )

    @param.depends("explorer.members", watch=True)
    def _draw_observed(self):
        self.observed_pane.object = observed_global_view(
            self.explorer.observed_comparison(), self.explorer.eruptions()
        )

    def __panel__(self):
        return self._layout
