"""Diagnostics of a generated ensemble that do not depend on the region or month shown.

Computed once per result in the generation job (no Panel, no torch): the
Nino3.4 index and its spectrum for the generated and the true ensembles, and
the leading EOF of tropical-Pacific anomalies of each with their pattern
correlation.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climviz.diagnostics import anomalies, eofs, nino34_index, pattern_correlation, temporal_power_spectrum

ENSO_BOX = "-20,20,120,290"         # tropical Pacific box of the EOF comparison


def diagnose(ens: xr.DataArray, cond: xr.DataArray, ref: xr.DataArray | None) -> dict:
    """Diagnostics that do not depend on the region or month (computed once per result).

    Keys ``nino_cond (time)``, ``nino_gen``/``nino_ref (member, time)``, ``psd_gen``/``psd_ref
    (frequency)`` (member-mean Welch spectra), ``eof_gen``/``eof_ref`` (leading EOF Datasets),
    ``eof_corr``; a ``notes`` list says what could not be computed and why.
    """
    out: dict = {"notes": [], "has_truth": ref is not None}
    seg = int(min(ens.sizes["time"], 120))
    try:
        out["nino_cond"] = nino34_index(cond)
        out["nino_gen"] = nino34_index(ens)
        out["psd_gen"] = temporal_power_spectrum(out["nino_gen"], nperseg=seg).mean("member")
        if ref is not None:
            out["nino_ref"] = nino34_index(ref)
            out["psd_ref"] = temporal_power_spectrum(out["nino_ref"], nperseg=seg).mean("member")
    except ValueError as err:
        out["notes"].append(f"Nino3.4 index not available: {err}")
    out["eof_gen"] = leading_eof(ens)
    if ref is not None:
        out["eof_ref"] = leading_eof(ref)
        if out["eof_gen"] is not None and out["eof_ref"] is not None:
            out["eof_corr"] = float(pattern_correlation(out["eof_gen"]["eof"], out["eof_ref"]["eof"], abs=True))
    if out["eof_gen"] is None:
        out["notes"].append("Leading EOF not available (too few months or grid points in the box).")
    return out


def leading_eof(ens: xr.DataArray) -> xr.Dataset | None:
    """Leading EOF ``eof (lat, lon)``, ``variance_fraction`` of monthly anomalies over the tropical
    Pacific (:data:`ENSO_BOX`), members stacked in time; None when it cannot be computed."""
    anom = anomalies(ens).transpose("member", "time", "lat", "lon")
    nlat, nlon = anom.sizes["lat"], anom.sizes["lon"]
    vals = anom.values.reshape(-1, nlat, nlon)
    stacked = xr.DataArray(vals, dims=("time", "lat", "lon"), attrs={"units": "K"},
                           coords={"time": np.arange(len(vals)), "lat": anom["lat"], "lon": anom["lon"]})
    try:
        return eofs(stacked, n=1, region=ENSO_BOX).isel(mode=0)
    except Exception:
        return None
