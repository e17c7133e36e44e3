"""The page's state in its URL (climviz.ui.pages.share) with a Location outside a server: the
query sets the parameters (bad values fitted or ignored, with a note), changes write only what
differs from a fresh session, and a link asks to redo a job only while it matches the result."""

import panel as pn
import pytest
from panel.io.location import Location

from climviz.ui.downscaling import Downscaling
from climviz.ui.ensemble_request import UPLOAD
from climviz.ui.generation import EnsembleGeneration
from climviz.ui.pages.share import SharedView, fit, share_view
from climviz.vocabulary import DEFAULT_SAMPLER

PERIOD = {"start_year": 1990, "end_year": 1991}


def _tabs():
    return pn.Tabs(("ensemble", pn.Column()), ("downscaling", pn.Column()), ("explorer", pn.Column()))


def _share(search: str, generation=None):
    tabs, g, d = _tabs(), generation or EnsembleGeneration(None, "no model"), Downscaling(None, None, "none")
    loc = Location(search=search)
    return SharedView(loc, tabs, g, d), loc, tabs, g, d


def test_a_fresh_page_has_a_bare_url_and_each_change_adds_only_itself():
    shared, loc, tabs, g, d = _share("")
    assert loc.search == "" and shared.notes == [] and shared.to_run == []
    g.request.seed = 7
    tabs.active = 1
    d.param.update(time=3, case="Case B (seed 202)")
    assert loc.query_params == {"seed": 7, "tab": 1, "frame": 3, "ds_case": "Case B (seed 202)"}
    g.request.seed = 0  # back to a fresh session's value: left out again
    assert "seed" not in loc.query_params


def test_a_query_sets_the_parameters_of_every_part():
    query = (
        "?tab=1&member=27&n=3&steps=4&sampler=ddim&mode=autoregressive&seed=11&from=1985&to=1986"
        "&region=Europe&month=5&truth=28&ds_n=3&ds_steps=6&ds_baseline=false&ds_region=Global&frame=4"
        "&ds_lon=330.5&ds_lat=45"
    )
    shared, loc, tabs, g, d = _share(query)
    r = g.request
    assert tabs.active == 1 and shared.notes == []
    assert (r.cond_member, r.n_members, r.steps, r.sampler, r.mode, r.seed) == (
        27,
        3,
        4,
        "ddim",
        "autoregressive",
        11,
    )
    assert (r.start_year, r.end_year) == (1985, 1986)
    assert (g.results.region, g.results.month, g.results.truth_member) == ("Europe", 5, 28)
    assert (d.n_samples, d.steps, d.run_baseline, d.region, d.time) == (3, 6, False, "Global", 4)
    assert (d.point_lon, d.point_lat) == (330.5, 45)
    assert loc.query_params["n"] == 3  # the URL keeps them


def test_bad_values_are_fitted_or_ignored_with_a_note_and_the_rest_applies():
    shared, loc, tabs, g, d = _share(
        "?tab=9&n=abc&steps=999&sampler=nope&seed=-4&month=2.5&ds_box=north&ds_baseline=maybe&region=Atlantis&frame=2"
    )
    r = g.request
    assert tabs.active == 2  # the last tab
    assert (r.n_members, r.steps, r.sampler, r.seed) == (
        5,
        200,
        DEFAULT_SAMPLER,
        0,
    )  # a bad sampler keeps the default
    assert g.results.month == 0 and g.results.region == "Global" and d.box == "20,70,280,360"
    assert d.run_baseline is True and d.time == 2  # the good value still applies
    said = " ".join(shared.notes)
    for name in (
        "region=Atlantis",
        "tab=9",
        "n=abc",
        "steps=999",
        "sampler=nope",
        "seed=-4",
        "month=2.5",
        "ds_box",
        "ds_baseline",
    ):
        assert name in said, name
    assert "n" not in loc.query_params and loc.query_params["steps"] == 200  # the URL says what is shown


def test_fit_clamps_numbers_and_checks_choices():
    d = Downscaling(None, None, "none")
    assert fit(d, "n_samples", 30) == (8, "outside 1..8; 8 used")
    assert fit(d, "n_samples", 3.0) == (3, "")
    assert fit(d, "sampler", "ddpm") == ("ddpm", "")
    assert fit(d, "box", "0,10,0,10") == ("0,10,0,10", "")
    assert fit(d, "point_lat", 120.0)[0] == 90
    assert fit(d, "run_baseline", 1)[0] is None


def test_outside_a_server_there_is_nothing_to_share():
    assert pn.state.location is None
    assert share_view(_tabs(), EnsembleGeneration(None, "no model"), Downscaling(None, None, "none")) is None


def test_a_link_redoes_the_generation_only_while_it_matches_the_result(tiny_generator):
    g = EnsembleGeneration(tiny_generator, "", n_members=2, steps=2, **PERIOD)
    shared, loc, *_ = _share("?seed=3", generation=g)
    assert "run" not in loc.query_params and shared.to_run == []
    assert g.generate(timeout=120) is not None, g.error
    assert loc.query_params["run"] == 1 and loc.query_params["seed"] == 3  # the link redoes this ensemble
    g.request.seed = 4  # no longer what is shown
    assert "run" not in loc.query_params and loc.query_params["seed"] == 4
    again, *_ = _share(f"{loc.search}&run=1", generation=EnsembleGeneration(tiny_generator, "", **PERIOD))
    assert len(again.to_run) == 1 and again.to_run[0].request.seed == 4


def test_a_result_from_an_upload_cannot_be_redone_from_a_link(tiny_generator):
    g = EnsembleGeneration(tiny_generator, "", n_members=2, steps=2, **PERIOD)
    shared, loc, *_ = _share("", generation=g)
    assert g.generate(timeout=120) is not None, g.error
    assert loc.query_params["run"] == 1
    g.request.cond_source = UPLOAD
    assert "run" not in loc.query_params
    shared._generated(None)
    assert "run" not in loc.query_params


@pytest.mark.parametrize(
    "flags, redo",
    [
        ("run=1", ["generation"]),
        ("ds_run=1", ["downscaling"]),
        ("run=1&ds_run=true", ["generation", "downscaling"]),
        ("run=0", []),
    ],
)
def test_the_run_flags_name_the_tasks_to_redo(flags, redo):
    shared, loc, tabs, g, d = _share(f"?{flags}")
    assert shared.to_run == [{"generation": g, "downscaling": d}[k] for k in redo]


def test_the_inspected_point_and_the_anomaly_reference_travel_in_the_link():
    shared, loc, tabs, g, d = _share("?lon=200.5&lat=-3.75&anomalies=true+ensemble")
    assert shared.notes == []
    assert (g.results.point_lon, g.results.point_lat) == (200.5, -3.75)
    assert g.results.anomaly_reference == "true ensemble"
    g.results.param.update(point_lon=10.0, point_lat=50.0)
    assert (loc.query_params["lon"], loc.query_params["lat"]) == (10.0, 50.0)
