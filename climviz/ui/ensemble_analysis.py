"""Diagnostics of a generated ensemble that do not depend on the region or month shown.

Computed once per result in the generation job (no Panel, no torch): the
Nino3.4 index, the multitaper spectrum over the whole period and the
autocorrelation function of its anomalies (each member's monthly climatology
and linear trend removed) for the generated and the true ensembles, and the
leading EOF of tropical-Pacific anomalies of each with their pattern
correlation. The observed Nino3.4 (NOAA, 1871-2022) goes through the same
functions once per process, as the reference line.
"""

from __future__ import annotations

import functools

import numpy as np
import xarray as xr

from climviz.diagnostics import (
    anomalies,
    autocovariance,
    eofs,
    multitaper_spectrum,
    nino34_anomalies,
    nino34_index,
    pattern_correlation,
)

ENSO_BOX = "-20,20,120,290"  # tropical Pacific box of the EOF comparison
ACF_LAGS = 36  # months of autocorrelation shown


def enso_time_behaviour(nino: xr.DataArray) -> dict:
    """``psd (frequency)``: member-mean multitaper spectrum over the whole record, and
    ``acf (lag)``: pooled autocorrelation to :data:`ACF_LAGS` months (fewer for short
    periods), of the Nino3.4 anomalies of ``nino (..., time)`` (an index or a field)."""
    anom = nino34_anomalies(nino)
    if "member" not in anom.dims:
        anom = anom.expand_dims(member=1)
    cov = autocovariance(anom, min(ACF_LAGS, anom.sizes["time"] - 1)).mean("member")
    return {"psd": multitaper_spectrum(anom).mean("member"), "acf": (cov / cov.isel(lag=0)).rename("acf")}


@functools.lru_cache(maxsize=1)
def observed_enso() -> dict | None:
    """:func:`enso_time_behaviour` of the observed Nino3.4 with its ``label``; None when the
    observed series is not shipped."""
    try:
        from climviz.data.observed import nino34_observed
    except ImportError:
        return None
    obs = nino34_observed()
    return {**enso_time_behaviour(obs), "label": obs.attrs.get("label", "observed Nino3.4")}


def diagnose(ens: xr.DataArray, cond: xr.DataArray, ref: xr.DataArray | None) -> dict:
    """Diagnostics that do not depend on the region or month (computed once per result).

    Keys ``nino_cond (time)``, ``nino_gen``/``nino_ref (member, time)``, ``psd_gen``/``psd_ref
    (frequency)`` (member-mean multitaper spectra over the whole period), ``acf_gen``/``acf_ref
    (lag)``, ``observed`` (:func:`observed_enso`), ``eof_gen``/``eof_ref`` (leading EOF
    Datasets), ``eof_corr``; a ``notes`` list says what could not be computed and why.
    """
    out: dict = {"notes": [], "has_truth": ref is not None, "observed": observed_enso()}
    try:
        out["nino_cond"] = nino34_index(cond)
        out["nino_gen"] = nino34_index(ens)
        gen = enso_time_behaviour(ens)
        out["psd_gen"], out["acf_gen"] = gen["psd"], gen["acf"]
        if ref is not None:
            out["nino_ref"] = nino34_index(ref)
            true = enso_time_behaviour(ref)
            out["psd_ref"], out["acf_ref"] = true["psd"], true["acf"]
    except ValueError as err:
        out["notes"].append(f"Nino3.4 index not available: {err}")
    out["eof_gen"] = leading_eof(ens)
    if ref is not None:
        out["eof_ref"] = leading_eof(ref)
        if out["eof_gen"] is not None and out["eof_ref"] is not None:
            out["eof_corr"] = float(
                pattern_correlation(out["eof_gen"]["eof"], out["eof_ref"]["eof"], abs=True)
            )
    if out["eof_gen"] is None:
        out["notes"].append("Leading EOF not available (too few months or grid points in the box).")
    return out


def leading_eof(ens: xr.DataArray) -> xr.Dataset | None:
    """Leading EOF ``eof (lat, lon)``, ``variance_fraction`` of monthly anomalies over the tropical
    Pacific (:data:`ENSO_BOX`), members stacked in time; None when it cannot be computed."""
    anom = anomalies(ens).transpose("member", "time", "lat", "lon")
    nlat, nlon = anom.sizes["lat"], anom.sizes["lon"]
    vals = anom.values.reshape(-1, nlat, nlon)
    stacked = xr.DataArray(
        vals,
        dims=("time", "lat", "lon"),
        attrs={"units": "K"},
        coords={"time": np.arange(len(vals)), "lat": anom["lat"], "lon": anom["lon"]},
    )
    try:
        return eofs(stacked, n=1, region=ENSO_BOX).isel(mode=0)
    except Exception:
        return None
