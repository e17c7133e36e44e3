"""How a session's pages are built: no embedded data made per session, panes made once and given
new objects, hidden views drawn when shown, maps that fill the page and zoom together
(timings live in bench/bench_app.py)."""

import holoviews as hv
import numpy as np
import panel as pn
import param
import pytest
import xarray as xr

import climviz.ui.sources as sources
from climviz.ui.ensemble_results import TRUE_CLIM
from climviz.ui.explorer import EnsembleExplorer
from climviz.ui.generation import EnsembleGeneration
from climviz.ui.pages import DownscalingPage, DrawnView, EnsemblePage, EnsembleViews, ExplorerPage
from climviz.vocabulary import CUSTOM_REGION

PERIOD = {"start_year": 1990, "end_year": 1991}


class _Choice(param.Parameterized):
    a = param.Integer(default=0)


def test_a_hidden_view_is_drawn_when_shown_and_follows_changes_only_then():
    s, calls = _Choice(), []
    tabs = pn.Tabs(("one", pn.Column()), ("two", pn.Column()))
    view = DrawnView(lambda: calls.append(s.a) or "")
    s.param.watch(lambda _: view.changed(), "a")
    view.show_in(tabs, 1)
    s.a = 1
    s.a = 2
    assert calls == []  # hidden: nothing drawn
    tabs.active = 1
    assert calls == [2]  # opened: drawn once, with the latest choice
    s.a = 3
    assert calls == [2, 3]
    tabs.active = 0
    tabs.active = 1
    assert calls == [2, 3]  # nothing changed meanwhile: not drawn again
    tabs.active = 0
    s.a = 4
    assert calls == [2, 3]
    tabs.active = 1
    assert calls == [2, 3, 4]


def test_a_drawn_view_shows_its_panes_or_the_sentence_in_their_place():
    pane, said = pn.pane.Markdown("x"), {"text": "*Generate first.*"}

    def draw():
        if said["text"] == "raise":
            raise ValueError("bad box")
        return said["text"]

    view = DrawnView(draw, pane)
    view.redraw()
    assert view.note.visible and view.note.object == "*Generate first.*" and not pane.visible
    said["text"] = ""
    view.redraw()
    assert not view.note.visible and pane.visible
    said["text"] = "raise"
    view.redraw()
    assert "ValueError: bad box" in view.note.object and view.note.visible and not pane.visible


def _views(state) -> EnsembleViews:
    return EnsembleViews(request=state.request, results=state.results)


def _render(viewer):
    """The bokeh model of a page, as a session would draw it."""
    return viewer.__panel__().get_root()


def _figure(pane, root):
    """The bokeh figure a HoloViews pane drew in ``root``."""
    return pane._plots[root.ref["id"]][0].state


def _title(dmap) -> str:
    return dmap.last.opts.get().kwargs["title"]


@pytest.fixture(scope="module")
def shared_data(tiny_generator):
    EnsembleGeneration(tiny_generator, "", **PERIOD).results.prefetch()  # what the process does at start-up


@pytest.fixture
def no_new_data(shared_data, monkeypatch):
    def refuse(*_, **__):
        raise AssertionError("a session made embedded data that the process should share")

    monkeypatch.setattr(sources, "toy_ensemble", refuse)


def test_the_maps_are_kept_and_the_generated_ones_join_with_the_first_result(tiny_generator, no_new_data):
    state = EnsembleGeneration(tiny_generator, "", n_members=2, steps=2, **PERIOD)
    views = _views(state)
    _render(views)  # draws the conditioning and true-member maps from the caches
    grid = views.maps.grid
    before = list(grid.objects)
    assert before == [views.maps.panes["cond"], views.maps.panes["truth"]]
    assert state.generate(timeout=120) is not None, state.error  # conditioning and reference from the caches
    after = list(grid.objects)
    assert len(after) == 6 and after[:2] == before and all(p is q for p, q in zip(after, before))


def test_a_new_month_or_a_player_step_updates_the_same_map_panes(tiny_generator, no_new_data):
    state = EnsembleGeneration(tiny_generator, "", n_members=2, steps=2, **PERIOD)
    assert state.generate(timeout=120) is not None, state.error
    views = _views(state)
    _render(views)
    maps = views.maps
    panes = dict(maps.panes)
    objects = {k: p.object for k, p in panes.items()}
    assert "1990-01" in _title(maps.maps["member"])
    state.results.month = 13
    assert maps.panes == panes and all(panes[k].object is objects[k] for k in panes)  # nothing rebuilt
    assert "1991-02" in _title(maps.maps["member"]) and "1991-02" in _title(maps.maps["cond"])
    player = views.player  # the animation: a Player on the month, at a speed a person can follow
    assert (player.start, player.end, player.value) == (0, 23, 13) and player.interval == 500
    player.value = 5  # one step of the Player
    assert state.results.month == 5 and "1990-06" in _title(maps.maps["mean"])
    assert maps.panes == panes and all(panes[k].object is objects[k] for k in panes)
    views.speed.value = 250
    assert player.interval == 250


def test_the_anomaly_reference_changes_the_maps_and_says_so(tiny_generator, no_new_data):
    state = EnsembleGeneration(tiny_generator, "", n_members=2, steps=2, **PERIOD)
    views = _views(state)
    _render(views)
    maps = views.maps
    cond = maps._pipes["cond"].data["field"]
    assert "conditioning run's 1990-1991" in maps.caption.object
    state.results.anomaly_reference = TRUE_CLIM
    assert "true ensemble's 1990-1991" in maps.caption.object
    assert float(abs(maps._pipes["cond"].data["field"] - cond).max()) > 0.01
    widgets = [w for w in views.__panel__().select(pn.widgets.Select) if w.name == "Anomalies from"]
    assert len(widgets) == 1 and widgets[0].value == TRUE_CLIM


def test_the_ensemble_maps_fill_the_width_and_zoom_together_apart_from_the_enso_maps(
    tiny_generator, no_new_data
):
    state = EnsembleGeneration(tiny_generator, "", n_members=2, steps=2, **PERIOD)
    assert state.generate(timeout=120) is not None, state.error
    views = _views(state)
    root = _render(views)
    views.tabs.active = 2  # draws the ENSO tab's EOF maps
    figs = [_figure(p, root) for p in views.maps.panes.values()]
    assert all(f.sizing_mode == "stretch_width" and f.width is None and f.min_width >= 300 for f in figs)
    assert len({id(f.x_range) for f in figs}) == 1 and len({id(f.y_range) for f in figs}) == 1
    eofs = [_figure(p, root) for p in views.enso.eofs]
    assert eofs[0].x_range is eofs[1].x_range  # generated and true EOF zoom together ...
    assert eofs[0].x_range is not figs[0].x_range  # ... on their own, tropical-Pacific axes


def test_hidden_regional_series_are_drawn_when_shown_into_the_same_pane(tiny_generator, no_new_data):
    state = EnsembleGeneration(tiny_generator, "", n_members=2, steps=2, **PERIOD)
    views = _views(state)
    _render(views)
    plot = views.series.plot
    assert plot.object is None  # the hidden regional-mean tab drew nothing
    views.tabs.active = 1
    first = plot.object
    assert first is not None and "Global" in first.opts.get().kwargs["title"]
    state.results.region = "Nino3.4"
    assert views.series.plot is plot and plot.object is not first  # same pane, new plot
    assert "Nino3.4" in plot.object.opts.get().kwargs["title"]


def test_the_ensemble_page_is_controls_beside_views_or_a_note_without_a_model(tiny_generator):
    page = EnsemblePage(EnsembleGeneration(tiny_generator, "", **PERIOD))
    layout = page.__panel__()
    assert isinstance(layout, pn.Row) and isinstance(layout[1], pn.param.ParamFunction)  # views come later
    assert isinstance(page.views(), EnsembleViews)
    missing = EnsemblePage(EnsembleGeneration(None, "No ensemble generator at `x`.")).__panel__()
    assert isinstance(missing, pn.Column)
    assert any("No ensemble generator at `x`." in str(p.object) for p in missing.select(pn.pane.Alert))


def test_the_explorer_updates_its_panes_and_keeps_its_plots_apart():
    page = ExplorerPage(EnsembleExplorer(members=2))
    assert isinstance(page.__panel__(), pn.Row)
    # the K plume and the anomaly plot share dimension names: linked, one would squash the other
    assert [page.plume_pane.linked_axes, page.observed_pane.linked_axes] == [False, False]
    root = _render(page)
    pane, first = page.map_pane, page.map_pane.object
    page.explorer.member = 1
    assert page.map_pane is pane and pane.object is not first
    assert _figure(pane, root).title.text.startswith("Member 1,")


@pytest.fixture(scope="module")
def downscaling_page(tiny_downscalers):
    """A downscaling page drawn in a document, before and after a run of 2 frames x 2 samples."""
    from climviz.ui.downscaling import Downscaling

    td, base = tiny_downscalers
    state = Downscaling(td, base, spinup_days=1.0, frames=2, n_samples=2, steps=2)
    page = DownscalingPage(state)
    grid, note = page.speed_maps.grid, page.speed.note
    assert note.visible and "Press Downscale" in note.object and len(grid.objects) == 0
    root = _render(page)
    assert state.run(timeout=300) is not None, state.error
    return state, page, root


def test_downscaling_maps_are_kept_and_follow_the_frame_and_the_samples(downscaling_page):
    state, page, _ = downscaling_page
    grid = page.speed_maps.grid
    state.param.update(time=0, point_lon=None, point_lat=None)
    panes = list(grid.objects)  # coarse input, mean model, 2 TAUDiff samples, a baseline sample, truth
    assert not page.speed.note.visible and len(panes) == 6 and all(p.object is not None for p in panes)
    maps = [p.object for p in panes]
    sent = [pipe.data["field"] for pipe in page.speed_maps.pipes]
    state.time = 1
    assert all(p is q for p, q in zip(grid.objects, panes))  # same panes ...
    assert all(p.object is m for p, m in zip(grid.objects, maps))  # ... same DynamicMaps (zoom kept) ...
    fresh = [pipe.data["field"] for pipe in page.speed_maps.pipes]
    assert all(float(abs(f - g).max()) > 0 for f, g in zip(fresh, sent))  # ... fed the new frame
    assert "06:00" in page.speed_maps.title.object
    clims = {pipe.data["clim"] for pipe in page.speed_maps.pipes}
    assert len(clims) == 1 and clims.pop()[1] == pytest.approx(state.speed_top())  # one scale for all frames
    assert page.player.end == 1 and page.player.value == 1  # the player follows the frame
    page.player.value = 0
    assert state.time == 0
    assert page.ke_plot.object is None  # hidden tab: not drawn
    page.tabs.active = 2
    assert page.ke_plot.object is not None and "TAUDiff" in page.timing_table.object
    page.tabs.active = 0


def test_a_tap_on_a_downscaling_map_shows_the_wind_at_that_point(downscaling_page):
    from climviz.ui.point_inspect import at_point

    state, page, _ = downscaling_page
    assert page.point_note.visible and not page.point_plot.visible
    maps = [p.object for p in page.speed_maps.grid.objects]
    centre = page.speed_maps._centre  # the North Atlantic box: display x is lon - centre
    page.speed_maps.taps[2].event(x=330.0 - centre, y=45.0)
    point = state.point()
    assert (state.point_lon, state.point_lat) == (330.0, 45.0)
    assert abs(point.lon - 330.0) <= 360 / 64 and abs(point.lat - 45.0) <= 180 / 32
    assert page.point_plot.visible and not page.point_note.visible
    curves = page.point_plot.object.values()
    labels = [c.label for c in curves]
    assert len(curves) == 2 + 2 and labels[-2:] == ["mean model", "truth"]  # 2 samples, mean model, truth
    truth = at_point(np.hypot(state.result["fine"]["u"], state.result["fine"]["v"]), point)
    np.testing.assert_allclose(curves[-1].dimension_values(1), truth.values, rtol=1e-6)
    assert [m.data for m in page.speed_maps._markers] == [point] * len(page.speed_maps._markers)
    assert all(p.object is m for p, m in zip(page.speed_maps.grid.objects, maps))  # the maps are kept
    state.time = 1
    assert page.point_plot.visible


def test_every_downscaling_plot_has_the_save_tool(downscaling_page):
    """Bokeh's save tool (PNG) on the rasterised maps and the fixed-size plots alike."""
    from bokeh.models import SaveTool

    state, page, _ = downscaling_page
    page.tabs.active = 2
    page.tabs.active = 0
    state.param.update(point_lon=330.0, point_lat=45.0)
    panes = [*page.speed_maps.grid.objects, page.point_plot, page.ke_plot, page.timing_plot]
    for pane in panes:
        fig = hv.render(pane.object)
        assert any(isinstance(t, SaveTool) for t in fig.toolbar.tools), pane


def test_a_tap_picks_a_point_and_fills_the_point_panes_without_replacing_the_maps(
    tiny_generator, no_new_data
):
    state = EnsembleGeneration(tiny_generator, "", n_members=3, steps=2, **PERIOD)
    assert state.generate(timeout=120) is not None, state.error
    views = _views(state)
    root = _render(views)
    maps, point = views.maps, views.maps.point
    panes, objects = dict(maps.panes), {k: p.object for k, p in maps.panes.items()}
    assert point.view.note.visible and "Tap any map" in point.view.note.object
    draws = []
    redraw = point.view.redraw
    point.view.redraw = lambda: draws.append(1) or redraw()
    maps.on_tap(x=-40.0, y=2.0)  # what a tap on a map calls: 140 E, 2 N in the Pacific-centred map
    assert len(draws) == 1  # one redraw for the two coordinates
    res = state.results
    lon, lat = res.point_lon, res.point_lat
    assert abs(lon - 140.0) < 5 and abs(lat - 2.0) < 5
    assert maps.panes == panes and all(panes[k].object is objects[k] for k in panes)  # maps kept
    assert not point.view.note.visible and "Point" in point.title.object
    n_true = len(res.reference_members())
    curves = [e for e in point.series.object.last if isinstance(e, hv.Curve)]
    assert len(curves) == 1 + 3 + n_true
    assert point.ranks.object is not None and point.distribution.object is not None
    ring = maps.maps["member"].last.Points.II  # the marker on every map, at the grid point
    assert len(ring) == 1 and abs(float(ring["x"][0]) - (lon - 180.0)) < 1e-6
    pane, plot = point.series, point.series.object
    fig = _figure(pane, root)
    y_before = (fig.y_range.start, fig.y_range.end)
    res.anomaly_reference = TRUE_CLIM  # the point views follow the anomaly reference ...
    assert "true ensemble" in res.point_inspection().clim_note
    maps.on_tap(x=100.0, y=-60.0)  # ... and another tap, far away
    assert not point.view.note.visible, point.view.note.object
    assert point.series is pane and pane.object is plot  # updated in place ...
    assert (
        _figure(pane, root) is fig and fig.title.text == f"At {res.grid_point().label()}"
    )  # ... to the new point
    assert (fig.y_range.start, fig.y_range.end) != y_before  # the axes follow the new point


def test_stipples_where_all_members_agree(tiny_generator, no_new_data):
    state = EnsembleGeneration(tiny_generator, "", n_members=4, steps=2, **PERIOD)
    assert state.generate(timeout=120) is not None, state.error
    res = state.results
    cond = res.shown_conditioning()
    clim = res.climatology()
    # every member: the conditioning run's climatology + 1 K north of the equator, and
    # +-1 K alternating between members to the south (no agreement there)
    base = clim.sel(month=cond["time"].dt.month).drop_vars("month")
    north = (cond["lat"] > 0).astype(float)
    signs = xr.DataArray([1.0, -1.0, 1.0, -1.0], dims="member")
    ens = base + north + (1 - north) * signs
    res.keep(ens.transpose("member", "time", "lat", "lon"), cond, res.analysis, [])
    views = _views(state)
    _render(views)
    lon, lat = res.agreement_points()["mean"]  # on every other row and column of the grid
    assert lat.size == (cond["lat"].values[::2] > 0).sum() * cond["lon"].values[::2].size
    assert np.all(lat > 0)
    dots = views.maps.maps["mean"].last.Points.I
    assert len(dots) == lat.size
    assert "dots" in _title(views.maps.maps["mean"]) and "80 %" in views.maps.caption.object


def test_a_box_drawn_on_the_conditioning_map_chooses_a_custom_region(tiny_generator, no_new_data):
    """The box-select tool's finished geometry, as the browser sends it to the drawn figure,
    sets the region (display x is lon - 180 on the Pacific-centred map)."""
    from bokeh.events import SelectionGeometry

    state = EnsembleGeneration(tiny_generator, "", n_members=2, steps=1, **PERIOD)
    views = _views(state)
    root = _render(views)
    fig = _figure(views.maps.panes["cond"], root)
    geometry = {"type": "rect", "x0": -20.0, "x1": 40.0, "y0": 10.0, "y1": -10.0}
    for final in (False, True):  # a box still being drawn changes nothing
        event = SelectionGeometry(fig, geometry=geometry, final=final)
        for callback in fig._event_callbacks.get(SelectionGeometry.event_name, []):
            callback(event)
        if not final:
            assert state.results.region != CUSTOM_REGION
    assert state.results.region == CUSTOM_REGION
    assert state.results.box == "-10.0,10.0,160.0,220.0"
