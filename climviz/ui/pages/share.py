"""Share a view: the page's state lives in the URL, so a copied link reopens the same view.

:func:`share_view` keeps the open tab, the ensemble request and what its views show, and the
downscaling request, region, frame and inspected point in step with the query of the page's
URL (``pn.state.location.sync``, one short query name per parameter). Only values that differ
from a fresh session's are written, so links stay short.

A link can also redo the computation it shows: after a successful generation the page adds
``run=1`` to the URL (``ds_run=1`` after a downscaling), and drops it again as soon as a
setting of the request changes; a session opened on a URL with the flag starts the same job
once the page is loaded. The app is deterministic on one machine, so the same seed gives the
same ensemble. Values of the query that do not fit a parameter (a word for a number, a
sampler that does not exist, a year outside the model's span) are clamped into its bounds or
left out, and the page says which in a notification.
"""

from __future__ import annotations

import functools
import urllib.parse

import panel as pn
import param

from climviz.data.regions import get_region
from climviz.ui.downscaling import Downscaling
from climviz.ui.ensemble_request import EMBEDDED
from climviz.ui.generation import EnsembleGeneration
from climviz.ui.pages.parts import run_in_session
from climviz.ui.task import BackgroundTask

# parameter -> query name, per state object
TABS = {"active": "tab"}
REQUEST = {
    "cond_member": "member",
    "n_members": "n",
    "sampler": "sampler",
    "steps": "steps",
    "mode": "mode",
    "seed": "seed",
    "start_year": "from",
    "end_year": "to",
}
RESULTS = {
    "region": "region",
    "box": "box",
    "month": "month",
    "truth_member": "truth",
    "anomaly_reference": "anomalies",
    "point_lon": "lon",
    "point_lat": "lat",
}
DOWNSCALING_REQUEST = {
    "case": "ds_case",
    "frames": "ds_frames",
    "n_samples": "ds_n",
    "sampler": "ds_sampler",
    "steps": "ds_steps",
    "noise_correlation": "ds_rho",
    "seed": "ds_seed",
    "run_baseline": "ds_baseline",
}
DOWNSCALING_VIEW = {
    "region": "ds_region",
    "box": "ds_box",
    "time": "frame",
    "point_lon": "ds_lon",
    "point_lat": "ds_lat",
}
RUN, DS_RUN = "run", "ds_run"  # flags: redo the generation / the downscaling on load


def fit(obj: param.Parameterized, name: str, value, bounds=None):
    """``value`` (from a URL query) as a valid value of parameter ``name`` of ``obj``, and a note.

    Numbers are clamped into the parameter's bounds (or ``bounds``); a value of the wrong kind,
    a choice not in a selector's list or an unreadable box comes back as ``None`` with the reason.
    """
    p = obj.param[name]
    if isinstance(p, param.Boolean):
        return (value, "") if isinstance(value, bool) else (None, "not true/false; ignored")
    if isinstance(p, param.Number):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return None, "not a number; ignored"
        if isinstance(p, param.Integer):
            if float(value) != int(value):
                return None, "not a whole number; ignored"
            value = int(value)
        lo, hi = bounds or p.bounds or (None, None)
        fitted = value if lo is None else max(value, lo)
        fitted = fitted if hi is None else min(fitted, hi)
        return fitted, "" if fitted == value else f"outside {lo}..{hi}; {fitted} used"
    if isinstance(p, param.Selector):
        for v in (value, str(value)):
            if v in p.objects:
                return v, ""
        return None, "not one of the choices; ignored"
    if name == "box":
        try:
            get_region(str(value))
        except Exception:
            return None, "not a box lat0,lat1,lon0,lon1; ignored"
    return str(value), ""


def _is_set(flag) -> bool:
    return flag in (1, True, "1", "true")


class SharedView:
    """The page's state kept in step with ``location``'s query (a :class:`panel.io.location.Location`).

    On construction the query is read (bad values fitted or left out: ``notes`` says which),
    applied, and from then on every change of a shared parameter is written to it, leaving out
    values equal to a fresh session's. ``to_run`` lists the tasks the link asks to redo.
    """

    def __init__(self, location, tabs: pn.Tabs, generation: EnsembleGeneration, downscaling: Downscaling):
        self.location = location
        self.generation, self.downscaling = generation, downscaling
        self.bindings = [
            (tabs, TABS, {"active": (0, len(tabs) - 1)}),
            (generation.request, REQUEST, {}),
            (generation.results, RESULTS, {}),
            (downscaling, DOWNSCALING_REQUEST, {}),
            (downscaling, DOWNSCALING_VIEW, {}),
        ]
        # a fresh session's values: what an absent query name means
        self.initial = {q: getattr(obj, p) for obj, names, _ in self.bindings for p, q in names.items()}
        query = location.query_params
        self.notes: list[str] = []
        cleaned = {}
        for obj, names, bounds in self.bindings:
            for p, q in names.items():
                if q not in query:
                    continue
                value, note = fit(obj, p, query[q], bounds.get(p))
                if note:
                    self.notes.append(f"{q}={query[q]}: {note}")
                if value is not None:
                    cleaned[q] = value
        flags = {f: 1 for f in (RUN, DS_RUN) if _is_set(query.get(f))}
        self.to_run: list[BackgroundTask] = [
            task for f, task in ((RUN, generation), (DS_RUN, downscaling)) if f in flags
        ]
        location.search = _encode({**cleaned, **flags})
        for obj, names, _ in self.bindings:
            location.sync(obj, names)
        self._shorten()
        for obj, names, _ in self.bindings:  # after the location's own watchers
            obj.param.watch(self._shorten, list(names), precedence=1)
        generation.results.param.watch(self._generated, "version")
        generation.request.param.watch(lambda _: self._flag(RUN, False), [*REQUEST, "cond_source"])
        downscaling.param.watch(self._downscaled, "result")
        downscaling.param.watch(lambda _: self._flag(DS_RUN, False), list(DOWNSCALING_REQUEST))

    def _shorten(self, *_events) -> None:
        """Leave out of the query the values a fresh session has anyway."""
        query = self.location.query_params
        short = {k: v for k, v in query.items() if k not in self.initial or v != _as_query(self.initial[k])}
        if short != query:
            self.location.search = _encode(short)

    def _flag(self, flag: str, on: bool) -> None:
        query = self.location.query_params
        if (flag in query) != on:
            query = {**query, flag: 1} if on else {k: v for k, v in query.items() if k != flag}
            self.location.search = _encode(query)

    def _generated(self, _event) -> None:
        results = self.generation.results
        # a result from an uploaded run cannot be redone from a link
        self._flag(RUN, results.result is not None and self.generation.request.cond_source == EMBEDDED)

    def _downscaled(self, _event) -> None:
        self._flag(DS_RUN, self.downscaling.result is not None)


def _as_query(value):
    """``value`` as it reads back from a query (numbers stay numbers, the rest is text)."""
    if isinstance(value, bool) or value is None:
        return value
    return value if isinstance(value, (int, float)) else str(value)


def _encode(query: dict) -> str:
    def text(v):
        return ("true" if v else "false") if isinstance(v, bool) else str(v)

    return "?" + urllib.parse.urlencode({k: text(v) for k, v in query.items()}) if query else ""


def share_view(
    tabs: pn.Tabs, generation: EnsembleGeneration, downscaling: Downscaling, location=None
) -> SharedView | None:
    """Keep this session's page state in its URL; redo the jobs the URL asks for once the page is
    loaded, and say which query values were fitted or ignored. None outside a served session."""
    location = location if location is not None else pn.state.location
    if location is None:
        return None
    shared = SharedView(location, tabs, generation, downscaling)
    for task in shared.to_run:
        pn.state.onload(functools.partial(run_in_session, task))
    if shared.notes:
        pn.state.onload(
            functools.partial(_warn, "Some settings of the link were fixed: " + "; ".join(shared.notes))
        )
    return shared


def _warn(text: str) -> None:
    if pn.state.notifications is not None:
        pn.state.notifications.warning(text, duration=10_000)
