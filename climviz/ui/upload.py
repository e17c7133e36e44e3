"""A conditioning run uploaded in the browser, checked before anything uses it (no Panel, no torch).

The bytes go through the common loader (:func:`climviz.data.loader.open_ensemble`),
the run is regridded to the generator's grid when it is on another global grid
(:mod:`climviz.data.regrid`; the note says so), and the years are checked
against what the generator can take.
Every failure is an :class:`UploadError` whose message is meant for the page.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from climviz.data.regrid import regrid

MAX_UPLOAD_VALUES = 50_000_000  # values of the one run read from an upload (200 MB of float32)


class UploadError(ValueError):
    """An uploaded file that cannot be used; the message says why in plain words."""


def read_conditioning_upload(
    data: bytes, filename: str = "upload.nc", *, grid=None, years: tuple[int, int] | None = None
) -> tuple[xr.DataArray, tuple[int, int], str]:
    """``(run (time, lat, lon) in K, (first, last) usable year, note)`` from uploaded bytes.

    ``grid = (lat, lon)`` the generator's grid (a run on another global grid is regridded
    to it) and ``years = (first, last)`` the years it was trained on; ``None`` skips that step.
    """
    from climviz.data.loader import DataError, open_ensemble

    suffix = Path(filename).suffix or ".nc"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(data)
            lazy = open_ensemble(path, check_values=False)  # header and coordinates only
            first = lazy.isel(member=[0])
            if first.size > MAX_UPLOAD_VALUES:
                raise DataError(
                    f"one run of {first.size:,} values is more than this server reads from an "
                    f"upload ({MAX_UPLOAD_VALUES:,}); send a shorter period"
                )
            da = open_ensemble(first.load())  # only the first member is read and checked
    except DataError as err:
        raise UploadError(f"**{filename}** could not be used: {' '.join(str(err).split())}") from None
    except Exception as err:
        reason = " ".join(str(err).split())
        raise UploadError(
            f"**{filename}** is not a readable NetCDF file ({type(err).__name__}: {reason})."
        ) from None
    n_members = lazy.sizes["member"]
    extra = f" It holds {n_members} members; the first one is used." if n_members > 1 else ""
    run = da.isel(member=0, drop=True)
    n_missing = int(np.isnan(run.values).sum())
    if n_missing:
        raise UploadError(
            f"**{filename}** has {n_missing} missing (NaN) values; the generator needs a complete "
            "run. Fill or cut the gaps first."
        )
    if grid is not None:
        try:
            run = regrid(run, grid[0], grid[1], where=filename)
        except ValueError as err:  # a regional or irregular grid: DataError says why
            raise UploadError(f"**{filename}** could not be used: {' '.join(str(err).split())}") from None
    in_file = run["time"].dt.year.values
    lo, hi = int(in_file.min()), int(in_file.max())
    if years is not None:
        y0, y1 = years
        lo, hi = max(lo, y0), min(hi, y1)
        if lo > hi:
            raise UploadError(
                f"**{filename}** covers {int(in_file.min())}-{int(in_file.max())}, outside the years "
                f"the generator was trained on ({y0}-{y1})."
            )
    run.attrs["source_description"] = f"uploaded file {filename}"
    regridded = f" It was {run.attrs['regridding']}." if "regridding" in run.attrs else ""
    note = (
        f"Using **{filename}**: {run.sizes['time']} months, {int(in_file.min())}-{int(in_file.max())}.{extra}"
        f"{regridded} No true ensemble exists for an uploaded run, so the comparison with truth is left out."
    )
    return run, (lo, hi), note
