"""Wind data for the downscaler: open a file, hold out the end of it, make (fine, coarse) pairs.

Shared by training (:mod:`climviz.pipelines.downscale_training`), evaluation
(:mod:`climviz.pipelines.downscale_eval`) and ``climviz downscale``, so neither
evaluation nor ``climviz downscale`` imports the training code.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climviz.nn.wind_fields import VARIABLES


def open_winds(data, variables=VARIABLES) -> xr.Dataset:
    """Open ``u, v`` from a NetCDF/Zarr path (or take a Dataset) as ``(time, lat, lon)`` float32,
    latitude ascending, longitude in [0, 360) (through the common loader, units kept)."""
    from climviz.data.loader import open_run

    arrays = {
        v: open_run(data, var=v, units=None, require_global=True).drop_vars("member", errors="ignore")
        for v in variables
    }
    ds = xr.Dataset(arrays)
    src = data.attrs if isinstance(data, xr.Dataset) else arrays[variables[0]].attrs
    var_keys = ("standard_name", "long_name", "units")  # the loader merges the variable's attrs in
    ds.attrs = {
        k: v for k, v in src.items() if isinstance(v, (str, int, float, np.number)) and k not in var_keys
    }
    ds.attrs.setdefault("source_file", str(data) if not isinstance(data, xr.Dataset) else "in-memory dataset")
    return ds


def split_time(n: int, holdout: float = 0.2) -> tuple[slice, slice]:
    """(training, held-out) slices of ``n`` time steps; the last ``holdout`` fraction is held out."""
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    n_test = max(1, int(round(n * holdout)))
    if n - n_test < 1:
        raise ValueError(f"{n} time steps are too few to hold out {holdout:.0%}")
    return slice(0, n - n_test), slice(n - n_test, n)


def make_pairs(fine: xr.Dataset, factor: int = 4) -> tuple[xr.Dataset, xr.Dataset]:
    """``(fine, coarse)`` u, v datasets; coarse by spherical band-limiting and ``factor``-times coarsening."""
    from climviz.data.coarsen import coarsen

    coarse = coarsen(fine[list(VARIABLES)], factor)
    fh, fw = fine.sizes["lat"], fine.sizes["lon"]
    ch, cw = coarse.sizes["lat"], coarse.sizes["lon"]
    if (fh, fw) != (factor * ch, factor * cw):
        raise ValueError(
            f"fine grid {fh}x{fw} is not {factor} x the coarse grid {ch}x{cw}; "
            "TAUDiff needs a Gaussian grid (regrid the data first)"
        )
    return fine, coarse
