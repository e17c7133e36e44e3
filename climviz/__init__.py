"""climviz: interactive exploration of generative-AI emulators of climate simulations.

Layering (imports only point down; tests/test_layering.py checks it)::

    app.py -> climviz.ui -> climviz.pipelines -> climviz.nn / climviz.diffusion
                                             -> climviz.data / climviz.diagnostics
    climviz.pipelines.*_training -> climviz.train (training only; inference never imports it)
    below all of them: climviz.latlon (grid arithmetic), climviz.vocabulary,
    climviz.requests, climviz.contracts (plain Python and numpy), climviz.devices
    (device choice; torch only when resolving)
    climviz.cli (the command, one module per command group) calls the pipelines and trainers

Only climviz.ui (and app.py) imports Panel; climviz.nn imports neither xarray
nor climviz.data. Shared pieces sit below their users: the TAUDiff variables,
normalisation and conditioning interpolation in :mod:`climviz.nn.wind_fields`,
the wind-file preparation in :mod:`climviz.pipelines.wind_data`.
"""

__version__ = "0.1.0"
