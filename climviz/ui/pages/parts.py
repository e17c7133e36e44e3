"""Widgets every page shares: banner, notes, alerts, job controls, views drawn when shown, deferred pages."""

from __future__ import annotations

import logging
from collections.abc import Callable

import panel as pn
import param

from climviz.ui.sources import SYNTHETIC_NOTE
from climviz.ui.task import BackgroundTask

log = logging.getLogger(__name__)

POLL_MS = 300


def synthetic_banner(text: str = SYNTHETIC_NOTE) -> pn.pane.Alert:
    return pn.pane.Alert(text, alert_type="warning", sizing_mode="stretch_width")


def explain(text: str, width: int | None = 300) -> pn.pane.Markdown:
    """A short explanation in small grey type (``width=None``: the width of the page)."""
    sizing = {"width": width} if width else {"sizing_mode": "stretch_width"}
    return pn.pane.Markdown(text, styles={"font-size": "0.9em", "color": "#333"}, **sizing)


def unavailable(banner: pn.pane.Alert, note: str, text: str) -> pn.Column:
    """The page of a tab whose model is missing: the data banner, why, and what the tab does."""
    return pn.Column(
        banner, pn.pane.Alert(note, alert_type="info"), explain(text, width=700), sizing_mode="stretch_width"
    )


def deferred(build: Callable[[], pn.viewable.Viewable], until: str = "shown") -> pn.param.ParamFunction:
    """``build()``, called later: ``until="shown"``, when first drawn (in a ``dynamic`` Tabs, when
    its tab is first opened); ``until="loaded"``, once the page is up in the browser, so that what
    comes before it is usable first. ``build`` may be any callable (a class, a bound method, a
    ``functools.partial``): it is wrapped in a plain function, the only kind ParamFunction takes."""

    def page():
        return build()

    return pn.param.ParamFunction(
        page, lazy=until == "shown", defer_load=until == "loaded", sizing_mode="stretch_width"
    )


def run_in_session(task: BackgroundTask) -> bool:
    """Start ``task`` and poll it from a periodic callback of this session until its job is done
    (the worker thread never touches the browser document). False when the task refused."""
    if not task.start():
        return False
    poller = None

    def tick():
        if not task.poll() and poller is not None:
            poller.stop()

    poller = pn.state.add_periodic_callback(tick, period=POLL_MS)
    return True


class ErrorAlert(pn.viewable.Viewer):
    """A red alert showing the ``error`` of a task, hidden while it is empty."""

    task = param.ClassSelector(class_=BackgroundTask)

    def __init__(self, **params):
        super().__init__(**params)
        self._pane = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self._show()

    @param.depends("task.error", watch=True)
    def _show(self):
        self._pane.param.update(object=self.task.error, visible=bool(self.task.error))

    def __panel__(self):
        return self._pane


class JobControls(pn.viewable.Viewer):
    """Run / Cancel buttons, progress bar, status line and error of a :class:`BackgroundTask`.

    While the job runs, the task is polled from a periodic callback of this session, so the worker
    thread never touches the browser document; a closed session cancels its job.
    """

    task = param.ClassSelector(class_=BackgroundTask)
    label = param.String(default="Run")

    def __init__(self, **params):
        super().__init__(**params)
        self._run = pn.widgets.Button(name=self.label, button_type="primary", width=130)
        self._cancel = pn.widgets.Button(name="Cancel", button_type="light", width=90, disabled=True)
        self._bar = pn.indicators.Progress(
            value=0, max=100, sizing_mode="stretch_width", bar_color="primary", visible=False
        )
        self._status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._run.on_click(lambda _: run_in_session(self.task))
        self._cancel.on_click(lambda _: self.task.cancel())
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(lambda _ctx: self.task.cancel())  # a closed tab stops computing
        self._layout = pn.Column(
            pn.Row(self._run, self._cancel),
            self._bar,
            self._status,
            ErrorAlert(task=self.task),
            sizing_mode="stretch_width",
        )
        self._sync()

    @param.depends("task.progress", "task.running", "task.status", watch=True)
    def _sync(self):
        t = self.task
        self._bar.param.update(value=int(round(100 * t.progress)), visible=t.running)
        self._run.disabled = t.running
        self._cancel.disabled = not t.running
        self._status.object = t.status

    def __panel__(self):
        return self._layout


class DrawnView(pn.viewable.Viewer):
    """Panes built once under a note, redrawn by ``draw()`` when they are shown and stale.

    ``draw()`` updates the panes' objects and returns '', or returns a sentence shown in their
    place (an exception's message is shown the same way). A page marks the view stale with
    :meth:`changed` when something it draws changed; inside a ``Tabs`` (:meth:`show_in`) it is
    drawn only while its tab is active, so a hidden tab costs a session nothing.
    """

    def __init__(self, draw: Callable[[], str], *panes, **params):
        super().__init__(**params)
        self._draw, self.panes = draw, panes
        self.note = pn.pane.Markdown("", visible=False, sizing_mode="stretch_width")
        self._layout = pn.Column(self.note, *panes, sizing_mode="stretch_width")
        self._stale = True
        self._shown: Callable[[], bool] = lambda: True

    def show_in(self, tabs: pn.Tabs, index: int) -> DrawnView:
        """Draw only while tab ``index`` of ``tabs`` is active (and when it is opened, if stale)."""
        self._shown = lambda: tabs.active == index
        tabs.param.watch(lambda _: self.refresh(), "active")
        self.refresh()
        return self

    def changed(self) -> None:
        self._stale = True
        self.refresh()

    def refresh(self) -> None:
        if self._stale and self._shown():
            self._stale = False
            self.redraw()

    def redraw(self) -> None:
        try:
            text = self._draw()
        except Exception as err:
            log.exception("view %s failed", getattr(self._draw, "__name__", "?"))
            text = f"**This view could not be drawn:** {type(err).__name__}: {err}"
        self.note.param.update(object=text, visible=bool(text))
        for pane in self.panes:
            pane.visible = not text

    def __panel__(self):
        return self._layout
