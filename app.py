"""climviz dashboard: ``panel serve app.py``.

Assembles the template; state lives in climviz.ui (Param objects), drawing in
climviz.ui.views and layouts in climviz.ui.pages. Models load once per process
(``climviz.ui.sources``, from ``$CLIMVIZ_MODEL_DIR`` or ``models/``); every browser
session gets its own state objects, hence its own results.
"""

import panel as pn

from climviz.ui.downscaling import Downscaling
from climviz.ui.generation import EnsembleGeneration
from climviz.ui.pages import downscaling_page, ensemble_page, explorer_tab
from climviz.ui.sources import load_downscalers, load_generator

pn.extension(sizing_mode="stretch_width", notifications=True)

generator, note = load_generator()
ensemble = EnsembleGeneration(generator, note)
taudiff, baseline, ds_note = load_downscalers()
downscaling = Downscaling(taudiff, baseline, ds_note)

tabs = pn.Tabs(
    ("Ensemble generator", ensemble_page(ensemble)),
    ("Downscaling", downscaling_page(downscaling)),
    ("Explore the embedded ensemble", explorer_tab()),
    dynamic=True, sizing_mode="stretch_width",
)
template = pn.template.BootstrapTemplate(
    title="climviz: generative emulators of climate simulations",
    main=[tabs],
    header_background="#1f3b73",
    collapsed_sidebar=True,
)
template.servable()
