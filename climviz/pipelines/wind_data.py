"""Wind data for the downscaler: open a file, split its time axis, make (fine, coarse) pairs.

Shared by training (:mod:`climviz.pipelines.downscale_training`), evaluation
(:mod:`climviz.pipelines.downscale_eval`) and ``climviz downscale``, so neither
evaluation nor ``climviz downscale`` imports the training code.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def step_hours(time) -> float | None:
    """Spacing of the first two time stamps in hours (datetime64 or cftime), None if it cannot be read."""
    values = np.asarray(getattr(time, "values", time))
    if values.size < 2:
        return None
    dt = values[1] - values[0]
    if isinstance(dt, np.timedelta64):
        return float(dt / np.timedelta64(1, "h"))
    return float(dt.total_seconds() / 3600.0) if hasattr(dt, "total_seconds") else None


@dataclass(frozen=True)
class Periods:
    """Consecutive slices of the time axis: ``train | val | test`` (``val`` may be None)."""

    train: slice
    val: slice | None
    test: slice


def _days_to_steps(days: float, hours: float | None, what: str) -> int:
    if days <= 0:
        raise ValueError(f"{what} must be positive, got {days}")
    if not hours:
        raise ValueError(f"{what} needs a time axis with a readable step")
    n = int(round(days * 24.0 / hours))
    if n < 1:
        raise ValueError(f"{what}={days} is shorter than one {hours:g} h time step")
    return n


def split_periods(
    n: int,
    *,
    step_hours: float | None = None,
    val_days: float | None = None,
    test_days: float | None = None,
    holdout: float = 0.2,
) -> Periods:
    """Training, validation and test periods of ``n`` time steps, in that order, without overlap.

    The test period is the last ``test_days`` (or, when None, the last ``holdout``
    fraction); the validation period is the ``val_days`` before it (None when
    ``val_days`` is None); the training period is the rest, from the start.
    ``step_hours``: the spacing of the time steps, needed for the ``*_days``.
    """
    if test_days is None:
        if not 0.0 < holdout < 1.0:
            raise ValueError(f"holdout must be in (0, 1), got {holdout}")
        n_test = max(1, int(round(n * holdout)))
    else:
        n_test = _days_to_steps(test_days, step_hours, "test_days")
    n_val = 0 if val_days is None else _days_to_steps(val_days, step_hours, "val_days")
    n_train = n - n_test - n_val
    if n_train < 1:
        held = f"{test_days} test days" if test_days is not None else f"{holdout:.0%}"
        raise ValueError(
            f"{n} time steps are too few to hold out {held}"
            + (f" and {val_days} validation days" if val_days is not None else "")
        )
    val = slice(n_train, n_train + n_val) if n_val else None
    return Periods(slice(0, n_train), val, slice(n - n_test, n))


def split_wind_periods(
    ds, *, val_days: float | None = None, test_days: float | None = None, holdout: float = 0.2
) -> Periods:
    """:func:`split_periods` of the time axis of ``ds`` (its spacing from ``ds["time"]``)."""
    return split_periods(
        ds.sizes["time"],
        step_hours=step_hours(ds["time"]),
        val_days=val_days,
        test_days=test_days,
        holdout=holdout,
    )


def split_time(n: int, holdout: float = 0.2) -> tuple[slice, slice]:
    """(training, held-out) slices of ``n`` time steps; the last ``holdout`` fraction is held out."""
    p = split_periods(n, holdout=holdout)
    return p.train, p.test


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
