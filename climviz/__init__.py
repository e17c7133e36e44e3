"""climviz: interactive exploration of generative-AI emulators of climate simulations.

Layering (imports only point down)::

    app.py -> climviz.ui -> climviz.pipelines -> climviz.nn / climviz.diffusion
                                             -> climviz.data / climviz.diagnostics
"""

__version__ = "0.1.0"
