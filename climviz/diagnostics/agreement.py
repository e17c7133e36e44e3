"""Sign agreement of an ensemble: where do the members agree on the sign of the anomaly?

The usual stippling of ensemble maps (IPCC AR6 WGI, Cross-Chapter Box Atlas.1, "robust
signal" style): a point is stippled where at least a fraction ``threshold`` (80 % by default)
of the members have an anomaly of the same sign as the ensemble-mean anomaly.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

DEFAULT_THRESHOLD = 0.8


def sign_agreement(anomalies: xr.DataArray, *, member_dim: str = "member") -> xr.DataArray:
    """Fraction of members whose anomaly has the sign of the ensemble-mean anomaly, per point.

    A member with an anomaly of exactly zero agrees with no sign; where the ensemble mean is
    exactly zero there is no sign to agree with and the fraction is 0. NaN where any member
    is NaN (e.g. masked points).

    Parameters
    ----------
    anomalies : DataArray ``(member, ...)``, e.g. each member minus a climatology.

    Returns
    -------
    DataArray ``(...)`` in [0, 1], named ``sign_agreement``.

    Example
    -------
    >>> import xarray as xr
    >>> a = xr.DataArray([[1.0, -1.0], [2.0, 1.0], [0.5, 3.0]], dims=("member", "x"))
    >>> sign_agreement(a).values.round(3)
    array([1.   , 0.667])
    """
    if member_dim not in anomalies.dims:
        raise ValueError(f"anomalies have no member dimension {member_dim!r} (dims {anomalies.dims})")
    mean_sign = np.sign(anomalies.mean(member_dim, skipna=False))
    agree = (np.sign(anomalies) == mean_sign) & (mean_sign != 0)
    frac = agree.mean(member_dim).where(anomalies.notnull().all(member_dim))
    return frac.rename("sign_agreement").assign_attrs(
        long_name="fraction of members agreeing with the sign of the ensemble-mean anomaly", units="1"
    )


def agreement_mask(
    anomalies: xr.DataArray, threshold: float = DEFAULT_THRESHOLD, *, member_dim: str = "member"
) -> xr.DataArray:
    """True where at least ``threshold`` of the members agree with the sign of the ensemble mean.

    The comparison is on member counts (``agreeing >= threshold * M``, with a 1e-9 margin for
    the float product), so exactly 80 % of 5 or 10 members passes the default threshold.
    False at NaN points.

    Example
    -------
    >>> import xarray as xr
    >>> a = xr.DataArray([[1.0], [1.0], [1.0], [1.0], [-1.0]], dims=("member", "x"))
    >>> bool(agreement_mask(a).item()), bool(agreement_mask(a, 0.81).item())
    (True, False)
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    m = anomalies.sizes[member_dim] if member_dim in anomalies.dims else 0
    count = sign_agreement(anomalies, member_dim=member_dim) * m
    return (count >= threshold * m - 1e-9).fillna(False).astype(bool).rename("sign_agreement_mask")


def agreeing_points(mask: xr.DataArray, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """``(lon, lat)`` arrays of the True points of a ``(lat, lon)`` mask, for stippling.

    At most ``max_points`` are kept, evenly spaced through the row-major list of True points
    (deterministic: the same mask gives the same stipples on every redraw). Longitudes are
    those of the mask's grid; :func:`climviz.ui.point_views.stipple_view` puts them in map
    display coordinates.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    m = mask.transpose("lat", "lon")
    ii, jj = np.nonzero(np.asarray(m.values, dtype=bool))
    if ii.size > max_points:
        keep = np.unique(np.linspace(0, ii.size - 1, max_points).round().astype(int))
        ii, jj = ii[keep], jj[keep]
    return np.asarray(m["lon"].values, float)[jj], np.asarray(m["lat"].values, float)[ii]
