"""climviz dashboard: ``panel serve app.py``.

Assembles the template; state lives in climviz.ui (Param objects), drawing in
climviz.ui.views. Nothing else happens here.
"""

import panel as pn

from climviz.ui.pages import explorer_page

pn.extension(sizing_mode="stretch_width", notifications=True)

controls, main = explorer_page()
template = pn.template.BootstrapTemplate(
    title="climviz: generative emulators of climate simulations",
    sidebar=[pn.pane.Markdown("### Embedded ensemble"), controls],
    main=[main],
    header_background="#1f3b73",
)
template.servable()
