"""How a session's page is built: no embedded data made per session, hidden views drawn when
shown, panes built once and updated (timings live in bench/bench_app.py)."""

import panel as pn
import param

import climviz.ui.sources as sources
from climviz.ui.generation import EnsembleGeneration
from climviz.ui.pages import _drawn_view, _ensemble_views, _redraw_when_shown

PERIOD = {"start_year": 1990, "end_year": 1991}


class _Choice(param.Parameterized):
    a = param.Integer(default=0)
    b = param.Integer(default=0)


def test_a_hidden_view_is_drawn_when_shown_and_follows_changes_only_then():
    s, calls = _Choice(), []
    tabs = pn.Tabs(("one", pn.Column()), ("two", pn.Column()))
    _redraw_when_shown(tabs, 1, lambda: calls.append(s.a), s, ["a"])
    s.a = 1
    s.a = 2
    assert calls == []  # hidden: nothing drawn
    tabs.active = 1
    assert calls == [2]  # opened: drawn once, with the latest choice
    s.a = 3
    s.b = 9  # not something the view depends on
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

    layout, redraw = _drawn_view(draw, pane)
    note = layout[0]
    redraw()
    assert note.visible and note.object == "*Generate first.*" and not pane.visible
    said["text"] = ""
    redraw()
    assert not note.visible and pane.visible
    said["text"] = "raise"
    redraw()
    assert "ValueError: bad box" in note.object and note.visible and not pane.visible


def _holoviews_panes(layout) -> list:
    return [p for p in layout.objects if isinstance(p, pn.pane.HoloViews)]


def test_a_session_makes_no_embedded_data_and_keeps_its_panes(tiny_generator, monkeypatch):
    EnsembleGeneration(tiny_generator, "", **PERIOD).prefetch()  # what the process does at start-up

    def refuse(*_, **__):
        raise AssertionError("a session made embedded data that the process should share")

    monkeypatch.setattr(sources, "toy_ensemble", refuse)
    state = EnsembleGeneration(tiny_generator, "", n_members=2, steps=2, **PERIOD)
    views = _ensemble_views(state)
    views.get_root()  # draws the conditioning and true-member maps from the caches
    tabs = views[3]
    maps = tabs[0]
    before = _holoviews_panes(maps)
    assert len(before) == 2  # the generated maps join with the first result

    series_plot = tabs[1][1][1]
    assert series_plot.object is None  # the hidden regional-mean tab drew nothing
    tabs.active = 1
    first = series_plot.object
    assert first is not None and "Global" in first.opts.get().kwargs["title"]

    assert state.generate(timeout=120) is not None, state.error  # conditioning and reference from the caches
    after = _holoviews_panes(maps)
    assert len(after) == 5 and all(any(p is q for q in after) for p in before)
    state.region = "Nino3.4"
    assert tabs[1][1][1] is series_plot and series_plot.object is not first  # same pane, new plot
    assert "Nino3.4" in series_plot.object.opts.get().kwargs["title"]


def test_downscaling_maps_are_kept_and_follow_the_frame_and_the_samples(tiny_downscalers):
    from climviz.ui.downscaling import Downscaling
    from climviz.ui.pages import downscaling_page

    td, base = tiny_downscalers
    state = Downscaling(td, base, spinup_days=1.0, frames=2, n_samples=2, steps=2)
    page = downscaling_page(state)
    tabs = page[1][2]
    speed_layout, spectra_layout = tabs[0][0], tabs[2]
    note, title, grid = speed_layout
    assert note.visible and "Press Downscale" in note.object and len(grid.objects) == 0
    assert state.run(timeout=300) is not None, state.error
    panes = list(grid.objects)  # coarse input, mean model, 2 TAUDiff samples, a baseline sample, truth
    assert not note.visible and len(panes) == 6 and all(p.object is not None for p in panes)
    first = [p.object for p in panes]
    state.time = 1
    assert all(p is q for p, q in zip(grid.objects, panes))  # same panes ...
    assert all(p.object is not f for p, f in zip(grid.objects, first))  # ... new maps
    assert "06:00" in title.object
    assert spectra_layout[1][0].object is None  # hidden tab: not drawn
    state.param.update(n_samples=1, run_baseline=False)
    assert state.run(timeout=300) is not None, state.error
    assert len(grid.objects) == 4  # coarse input, mean model, 1 TAUDiff sample, truth
    assert all(p is q for p, q in zip(grid.objects, panes))  # the first four kept
    tabs.active = 2
    assert spectra_layout[1][0].object is not None and "TAUDiff" in spectra_layout[2][1][0].object
