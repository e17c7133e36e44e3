"""Panel pages: one :class:`panel.viewable.Viewer` per tab, drawing Param state objects.

Each page makes its panes once and updates their objects when the state changes;
a page that runs jobs polls its state from a periodic callback of the session
it belongs to, so background threads never touch the browser document.
"""

import holoviews as hv

from climviz.ui.pages.downscaling import DownscalingPage
from climviz.ui.pages.ensemble import EnsemblePage, EnsembleViews
from climviz.ui.pages.explorer import ExplorerPage
from climviz.ui.pages.parts import DrawnView, JobControls, deferred

hv.extension("bokeh")

__all__ = [
    "DownscalingPage",
    "DrawnView",
    "EnsemblePage",
    "EnsembleViews",
    "ExplorerPage",
    "JobControls",
    "deferred",
]
