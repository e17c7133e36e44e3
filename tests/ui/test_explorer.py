"""The Explore tab's state: the embedded ensemble beside the observed global mean."""

import holoviews as hv
import numpy as np
import pytest

from climviz.data.observed import hadcrut5_global_annual
from climviz.ui.explorer import EnsembleExplorer
from climviz.ui.views import observed_global_view


@pytest.fixture(scope="module")
def comparison():
    return EnsembleExplorer(members=3).observed_comparison()


def test_synthetic_and_observed_on_the_same_baseline(comparison):
    ds = comparison
    assert ds.sizes == {"member": 3, "year": 156} and int(ds.year[0]) == 1850 and int(ds.year[-1]) == 2005
    # every member is an anomaly from its own 1961-1990 mean, like HadCRUT5
    base = ds["synthetic"].sel(year=slice(1961, 1990)).mean("year")
    np.testing.assert_allclose(base.values, 0.0, atol=1e-9)
    # the observed values are the shipped file's, year by year
    obs = hadcrut5_global_annual()
    np.testing.assert_array_equal(ds["observed"].values, obs["anomaly"].sel(year=ds.year.values).values)
    assert "Open Government Licence" in ds.attrs["observed_source"]
    # the synthetic forced warming is close to the observed (test_observed_match has the details)
    warm = ds.sel(year=slice(1986, 2005)).mean("year") - ds.sel(year=slice(1850, 1900)).mean("year")
    assert abs(float(warm["synthetic"].mean()) - float(warm["observed"])) < 0.15


def test_view_labels_observed_and_synthetic(comparison):
    hv.extension("bokeh")
    view = observed_global_view(comparison, EnsembleExplorer.eruptions())
    labels = {el.label for el in view if isinstance(el, hv.Curve)}
    assert any("HadCRUT5" in lab and "observed" in lab for lab in labels)
    assert "synthetic ensemble mean" in labels
    assert "SYNTHETIC" in view.opts.get().kwargs["title"] and "OBSERVED" in view.opts.get().kwargs["title"]
