"""climviz dashboard: ``panel serve app.py`` (``make serve`` adds the start-up warm-up flags).

Assembles the template; state lives in climviz.ui (Param objects), drawing in
climviz.ui.views and pages (Panel Viewers) in climviz.ui.pages. Panel runs this script for
every browser session: models and the embedded data the default views show are
made once per process (``climviz.ui.sources.prepare_shared``, models from
``$CLIMVIZ_MODEL_DIR`` or ``models/``), before the server listens when it is
started with ``--warm`` as ``make serve`` does. Every session gets its own state
objects, hence its own results; the tabs not shown first are built when opened. The state
shown lives in the page's URL (climviz.ui.pages.share), so a copied link reopens the view.
"""

import panel as pn

from climviz.ui.downscaling import Downscaling
from climviz.ui.generation import EnsembleGeneration
from climviz.ui.pages import DownscalingPage, EnsemblePage, ExplorerPage, deferred
from climviz.ui.pages.share import share_view
from climviz.ui.sources import load_downscalers, load_generator, prepare_shared

pn.extension(sizing_mode="stretch_width", notifications=True)

prepare_shared()
generator, note = load_generator()
ensemble = EnsembleGeneration(generator, note)
taudiff, baseline, ds_note = load_downscalers()
downscaling = Downscaling(taudiff, baseline, ds_note)

tabs = pn.Tabs(
    ("Ensemble generator", EnsemblePage(ensemble)),
    ("Downscaling", deferred(lambda: DownscalingPage(downscaling))),
    ("Explore the embedded ensemble", deferred(ExplorerPage)),
    dynamic=True,
    sizing_mode="stretch_width",
)
share_view(tabs, ensemble, downscaling)  # the page's state in its URL; a shared link redoes its jobs
template = pn.template.BootstrapTemplate(
    title="climviz: generative emulators of climate simulations",
    main=[tabs],
    header_background="#1f3b73",
    collapsed_sidebar=True,
)
template.servable()
