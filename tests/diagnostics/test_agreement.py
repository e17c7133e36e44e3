"""Sign agreement on ensembles whose answer is known by counting."""

import numpy as np
import pytest
import xarray as xr

from climviz.diagnostics.agreement import agreeing_points, agreement_mask, sign_agreement


def members(*values):
    """An ensemble ``(member, x)`` with one point per tuple of member values."""
    return xr.DataArray(np.array(values, float).T, dims=("member", "x"))


def test_all_members_positive_agree_everywhere():
    rng = np.random.default_rng(0)
    a = xr.DataArray(rng.uniform(0.1, 2.0, size=(6, 4, 8)), dims=("member", "lat", "lon"))
    assert (sign_agreement(a) == 1.0).all() and agreement_mask(a).all()
    assert (sign_agreement(-a) == 1.0).all() and agreement_mask(-a).all()


def test_half_and_half_does_not_agree():
    a = members((3.0, 3.0, -1.0, -1.0))  # mean +1, two of four positive
    assert sign_agreement(a).item() == 0.5
    assert not bool(agreement_mask(a).item())


@pytest.mark.parametrize(
    "values, expected",
    [
        ((1, 1, 1, 1, -1), True),  # 4/5 = 80 %: on the threshold, agrees
        ((1,) * 8 + (-1, -1), True),  # 8/10
        ((1, 1, 1, -1), False),  # 3/4 = 75 %
        ((1,) * 7 + (-1,) * 3, False),  # 7/10
    ],
)
def test_threshold_edge_at_exactly_80_percent(values, expected):
    a = members(tuple(float(v) for v in values))
    assert bool(agreement_mask(a, 0.8).item()) is expected


def test_zero_mean_nan_and_zero_members():
    a = members((1.0, -1.0), (2.0, 0.0), (np.nan, 1.0))
    frac = sign_agreement(a).values
    assert frac[0] == 0.0  # mean exactly zero: no sign to agree with
    assert frac[1] == 0.5  # a zero member agrees with no sign
    assert np.isnan(frac[2])
    assert agreement_mask(a, 0.5).values.tolist() == [False, True, False]


def test_threshold_out_of_range_refused():
    with pytest.raises(ValueError, match="threshold"):
        agreement_mask(members((1.0, 1.0)), 0.0)


def _mask(true_at):
    lat, lon = np.array([-45.0, 0.0, 45.0]), np.arange(0.0, 360.0, 90.0)
    m = np.zeros((3, 4), bool)
    for i, j in true_at:
        m[i, j] = True
    return xr.DataArray(m, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


def test_agreeing_points_are_the_true_cells():
    lon, lat = agreeing_points(_mask([(0, 1), (2, 3), (1, 0)]))
    assert sorted(zip(lon.tolist(), lat.tolist())) == [(0.0, 0.0), (90.0, -45.0), (270.0, 45.0)]
    # (lon, lat) order of the mask does not matter
    lon2, lat2 = agreeing_points(_mask([(0, 1), (2, 3), (1, 0)]).transpose("lon", "lat"))
    np.testing.assert_array_equal(lon, lon2)
    np.testing.assert_array_equal(lat, lat2)


def test_agreeing_points_subsampled_evenly_and_deterministically():
    m = _mask([(i, j) for i in range(3) for j in range(4)])  # all 12 true
    lon, lat = agreeing_points(m, max_points=4)
    assert len(lon) == 4 and len(lat) == 4
    assert (lon[0], lat[0]) == (0.0, -45.0) and (lon[-1], lat[-1]) == (270.0, 45.0)  # ends kept
    lon_b, _ = agreeing_points(m, max_points=4)
    np.testing.assert_array_equal(lon, lon_b)
    assert len(agreeing_points(m, max_points=100)[0]) == 12
    assert len(agreeing_points(_mask([]))[0]) == 0
