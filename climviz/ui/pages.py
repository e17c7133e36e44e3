"""Panel layouts: widgets from the Param state objects, panes from the views."""

from __future__ import annotations

import holoviews as hv
import panel as pn

from climviz.data.regions import get_region
from climviz.ui.explorer import EnsembleExplorer, decimal_year
from climviz.ui.sources import SYNTHETIC_NOTE
from climviz.ui.views import map_view, plume_view

hv.extension("bokeh")


def synthetic_banner() -> pn.pane.Alert:
    return pn.pane.Alert(SYNTHETIC_NOTE, alert_type="warning", sizing_mode="stretch_width")


def explorer_page(state: EnsembleExplorer | None = None):
    """The embedded-ensemble explorer: controls, a month's map, the regional plume."""
    state = state or EnsembleExplorer()

    def _map(members, member, year, month, anomaly):
        field = state.month_field()
        what = "anomaly vs 1850-1879" if anomaly else "temperature"
        return map_view(field, title=f"Member {member}, {year}-{month:02d}: {what}",
                        cmap="RdBu_r" if anomaly else "inferno")

    def _plume(members, region, smoothing):
        series = state.regional_series()
        years = decimal_year(series["time"])
        r = get_region(region)
        return plume_view(series, state.plume_stats(), years, state.eruptions(),
                          title=f"{r.name} mean, {members} members ({smoothing}-month running mean)",
                          ylabel="temperature (K)")

    map_pane = pn.pane.HoloViews(
        pn.bind(_map, state.param.members, state.param.member, state.param.year, state.param.month,
                state.param.anomaly), sizing_mode="fixed")
    plume_pane = pn.pane.HoloViews(
        pn.bind(_plume, state.param.members, state.param.region, state.param.smoothing), sizing_mode="fixed")
    controls = pn.Param(
        state.param, parameters=["members", "member", "region", "year", "month", "smoothing", "anomaly"],
        widgets={"year": pn.widgets.IntSlider, "month": pn.widgets.IntSlider}, show_name=False,
    )
    return controls, pn.Column(synthetic_banner(), map_pane, plume_pane)
