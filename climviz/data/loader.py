"""The one reader for user-supplied CF temperature data (NetCDF, Zarr, in memory).

Every path into the project (CLI ``--data``, the app's uploads, notebooks)
goes through :func:`open_ensemble` or :func:`open_run`, which return the
canonical form of :mod:`climviz.data.grid`: an ``xr.DataArray`` named ``tas``,
dims ``(member, time, lat, lon)``, latitude ascending, longitude in
``[0, 360)``, cftime time, float32, units ``K``. :func:`canonicalize` does the
same on an object already in memory (it lives in :mod:`climviz.data.canonical`
and is re-exported here). Anything that cannot be put in that form raises
:class:`DataError` with a message naming the problem and the source.

The loader writes nothing.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from climviz.data.canonical import DataError, _check_sizes, _describe, _reason, _time_kwargs
from climviz.data.canonical import canonicalize as canonicalize  # re-exported: part of this module's API
from climviz.data.grid import CANONICAL_DIMS, LAT, LON, MEMBER, TIME
from climviz.data.regrid import regrid
from climviz.data.truncation import check_not_truncated

_ZARR_MARKERS = (".zgroup", ".zmetadata", ".zarray", "zarr.json")

Source = str | os.PathLike | Sequence[str | os.PathLike] | xr.Dataset | xr.DataArray


# ----------------------------------------------------------------------------- public API


def open_ensemble(
    source: Source,
    *,
    var: str | None = None,
    member: Any = None,
    chunks: dict | str | None = None,
    units: str | None = "K",
    require_global: bool = False,
    check_values: bool = True,
    grid=None,
) -> xr.DataArray:
    """Open a CF ensemble and return it in canonical form.

    Parameters
    ----------
    source : path, glob, list of paths, xr.Dataset or xr.DataArray
        A NetCDF file, a Zarr store directory, a glob (``"runs/tas_r*.nc"``)
        or a list of files. Several files are combined by what they hold:
        files sharing one time axis are stacked along ``member`` (renumbered
        ``0..N-1`` in sorted-name order when their member labels collide, e.g.
        one run per file), files covering disjoint time ranges are joined
        along ``time``; both at once works too (one file per member and period).
    var : str, optional
        Variable to read. Default: ``tas`` if present, else the single data
        variable with time, latitude and longitude dimensions.
    member : int or sequence, optional
        Members to keep, by label (``member`` coordinate value); when the
        labels are not numbers (``"r1i1p1f1"``) integers select by position.
        The ``member`` dim is kept (length 1 for a single int).
    chunks : dict or "auto", optional
        Dask chunks. Files are always opened lazily with Dask: ``None`` (the
        default) uses the chunks stored on disk, so nothing but coordinates is
        held in memory. In-memory objects are chunked only when given.
    units : {"K", "degC", None}
        Target units of the temperature (default ``"K"``). ``None`` keeps the
        data's units and name (for non-temperature fields such as wind).
    require_global : bool
        Demand longitudes that go all the way round the globe.
    check_values : bool
        Scan the values once (one streaming Dask pass) for all-NaN, inf,
        implausible temperatures and unreadable (truncated) data. Turn off
        only for very large, trusted stores.
    grid : (lat, lon), optional
        A model's grid (degrees). Data on another global grid is regridded to it
        by spherical-harmonic transform (:func:`climviz.data.regrid.regrid`,
        lazily for files) and ``attrs["regridding"]`` says how; data on a
        regional or irregular grid raises :class:`DataError` naming why.

    Returns
    -------
    xr.DataArray
        ``tas`` with dims ``(member, time, lat, lon)``, float32.

    Raises
    ------
    DataError
        With a message naming the problem and the file.

    Examples
    --------
    >>> tas = open_ensemble("mpi-ge/tas_*.nc", member=[0, 1, 2])  # doctest: +SKIP
    """
    kwargs = dict(var=var, units=units, require_global=require_global, check_values=check_values)
    if isinstance(source, (xr.Dataset, xr.DataArray)):
        obj = source if chunks is None else source.chunk(chunks)
        da = canonicalize(obj, **kwargs)
        where = _describe(source, None)
    else:
        paths = _resolve_paths(source)
        arrays = [_open_canonical(p, chunks, **kwargs) for p in paths]
        da = arrays[0] if len(arrays) == 1 else _combine(arrays, paths)
        where = str(paths[0]) if len(paths) == 1 else f"{len(paths)} files ({paths[0]}, ...)"
    da = _select_members(da, member, where)
    return da if grid is None else regrid(da, grid[0], grid[1], where=where)


def open_run(
    source: Source,
    *,
    var: str | None = None,
    member: Any = None,
    chunks: dict | str | None = None,
    units: str | None = "K",
    require_global: bool = False,
    check_values: bool = True,
    grid=None,
) -> xr.DataArray:
    """Open one conditioning run: dims ``(time, lat, lon)``, ``member`` as a scalar coord.

    ``source`` holds one run (no member dim, or length 1), or an ensemble
    from which ``member`` (one label, see :func:`open_ensemble`) picks it.
    A source with several members and no ``member`` is a :class:`DataError`.
    ``grid``: regrid to this model grid, as in :func:`open_ensemble`.
    """
    if member is not None and np.ndim(member) != 0:
        raise DataError(f"open_run takes one member, got {member!r}")
    da = open_ensemble(
        source,
        var=var,
        member=member,
        chunks=chunks,
        units=units,
        require_global=require_global,
        check_values=check_values,
        grid=grid,
    )
    if da.sizes[MEMBER] != 1:
        labels = da[MEMBER].values.tolist()
        raise DataError(
            f"{da.attrs.get('source_file', 'the data')} holds {len(labels)} members "
            f"{labels}; choose the conditioning run with member="
        )
    return da.isel({MEMBER: 0})


# ----------------------------------------------------------------------------- opening files


def _resolve_paths(source) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if not Path(text).exists() and any(c in text for c in "*?["):
            matches = sorted(glob.glob(text))
            if not matches:
                raise DataError(f"no files match {text!r}")
            return [Path(m) for m in matches]
        return [Path(text)]
    paths = [Path(os.fspath(p)) for p in source]
    if not paths:
        raise DataError("no files given")
    return sorted(paths)


def _peek_sizes(path: Path, engine: str | None, where: str) -> None:
    """Dimension sizes from the header alone (no index, no Dask graph), checked."""
    try:
        with xr.open_dataset(
            path,
            engine=engine,
            decode_cf=False,
            decode_times=False,
            decode_timedelta=False,
            create_default_indexes=False,
        ) as ds:
            sizes = dict(ds.sizes)
    except Exception:
        return  # unreadable: the real open below says why
    _check_sizes(sizes, where)


def _open_one(path: Path, chunks) -> xr.Dataset:
    if not path.exists():
        raise DataError(f"file not found: {path}")
    is_zarr = path.suffix.lower() == ".zarr" or path.is_dir()
    if path.is_dir() and not any((path / m).exists() for m in _ZARR_MARKERS):
        raise DataError(f"{path} is a directory but not a Zarr store")
    if not is_zarr:
        check_not_truncated(path)
    kwargs = dict(
        engine="zarr" if is_zarr else None, chunks={} if chunks is None else chunks, decode_timedelta=False
    )
    with warnings.catch_warnings():  # a Zarr store without consolidated metadata is fine
        warnings.filterwarnings("ignore", "Failed to open Zarr store with consolidated")
        _peek_sizes(path, kwargs["engine"], str(path))
        try:
            return xr.open_dataset(path, **kwargs, **_time_kwargs())
        except Exception as err:
            reason = f"({_reason(err)})"
            try:  # readable once times are left alone? then say so
                xr.open_dataset(path, **kwargs, decode_times=False).close()
            except Exception:
                kind = "Zarr store" if is_zarr else "NetCDF file"
                raise DataError(
                    f"cannot read {path}: not a readable {kind}, or it is corrupt or truncated {reason}"
                ) from err
            raise DataError(f"cannot decode the times in {path} {reason}") from err


def _open_canonical(path: Path, chunks, **kwargs) -> xr.DataArray:
    ds = _open_one(path, chunks)
    try:
        return canonicalize(ds, source=str(path), **kwargs)
    except BaseException:
        ds.close()
        raise


def _combine(arrays: list[xr.DataArray], paths: list[Path]) -> xr.DataArray:
    """Stack files sharing a time axis along member; join the groups along time."""
    ref = arrays[0]
    calendars = {a[TIME].values[0].calendar for a in arrays}
    if len(calendars) > 1:
        raise DataError(f"the files use different calendars {sorted(calendars)}")
    for i, (a, p) in enumerate(zip(arrays, paths)):
        same = (
            (a.sizes[LAT], a.sizes[LON]) == (ref.sizes[LAT], ref.sizes[LON])
            and np.allclose(a[LAT], ref[LAT], atol=1e-4)
            and np.allclose(a[LON], ref[LON], atol=1e-4)
        )
        if not same:
            raise DataError(
                f"the grid of {p} ({a.sizes[LAT]}x{a.sizes[LON]}) differs from "
                f"that of {paths[0]} ({ref.sizes[LAT]}x{ref.sizes[LON]})"
            )
        arrays[i] = a.assign_coords({LAT: ref[LAT], LON: ref[LON]})
    groups: list[list[int]] = []  # files with identical time axes
    for i, a in enumerate(arrays):
        for g in groups:
            t0 = arrays[g[0]][TIME].values
            if len(t0) == a.sizes[TIME] and bool(np.all(t0 == a[TIME].values)):
                g.append(i)
                break
        else:
            groups.append([i])
    opts = dict(coords="minimal", compat="override", join="override", combine_attrs="override")
    blocks = []
    for g in groups:
        block = arrays[g[0]]
        if len(g) > 1:
            block = xr.concat([arrays[i] for i in g], dim=MEMBER, **opts)
        if len(np.unique(block[MEMBER].values)) < block.sizes[MEMBER]:
            block = block.assign_coords({MEMBER: np.arange(block.sizes[MEMBER])})
        blocks.append((block, [paths[i] for i in g]))
    blocks.sort(key=lambda b: b[0][TIME].values[0])
    for (a, pa), (b, pb) in zip(blocks, blocks[1:]):
        if not a[TIME].values[-1] < b[TIME].values[0]:
            raise DataError(
                f"the files neither share one time axis nor cover disjoint time ranges: "
                f"{pa[0].name} ({a[TIME].values[0]} to {a[TIME].values[-1]}) overlaps "
                f"{pb[0].name} ({b[TIME].values[0]} to {b[TIME].values[-1]})"
            )
        if not np.array_equal(a[MEMBER].values, b[MEMBER].values):
            raise DataError(
                f"{pa[0].name} and {pb[0].name} follow each other in time but hold "
                f"different members ({a[MEMBER].values.tolist()} vs "
                f"{b[MEMBER].values.tolist()})"
            )
    out = xr.concat([b for b, _ in blocks], dim=TIME, **opts) if len(blocks) > 1 else blocks[0][0]
    out = out.transpose(*CANONICAL_DIMS)
    out.attrs = dict(ref.attrs)
    out.attrs["source_file"] = "; ".join(str(p) for p in paths)
    how = f"{len(groups)} time block(s) x {len(paths) // len(groups)} file(s) per block"
    note = f"climviz combined {len(paths)} files: {how}"
    out.attrs["history"] = f"{out.attrs['history']}\n{note}" if out.attrs.get("history") else note
    return out


def _select_members(da: xr.DataArray, member, where: str) -> xr.DataArray:
    if member is None:
        return da
    wanted = [member] if np.ndim(member) == 0 else list(member)
    labels = da[MEMBER].values
    if wanted and bool(np.all(np.isin(np.asarray(wanted, dtype=object), labels.astype(object)))):
        return da.sel({MEMBER: wanted})
    n = labels.size
    positional = labels.dtype.kind not in "iuf" and all(
        isinstance(w, (int, np.integer)) and -n <= w < n for w in wanted
    )
    if wanted and positional:
        return da.isel({MEMBER: wanted})
    raise DataError(f"member {member!r} not found in {where}; available members: {labels.tolist()}")
