"""The Example sections of the diagnostics, regions, requests and devices docstrings must run and print what they say."""

import doctest
import importlib

import pytest

MODULES = [
    "climviz.data.regions",
    "climviz.diagnostics.means",
    "climviz.diagnostics.agreement",
    "climviz.diagnostics.enso",
    "climviz.diagnostics.spectra",
    "climviz.diagnostics.volcanic",
    "climviz.diagnostics.scores",
    "climviz.requests",
    "climviz.devices",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
