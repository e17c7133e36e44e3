"""Writing data sets: NetCDF or Zarr chosen by the suffix, always atomically.

Every writer goes through :func:`atomic_path`: the data is written to a
temporary sibling and renamed into place only when complete, so an interrupted
run never leaves a file that looks finished. :func:`write_dataset` also sets
the project's encodings (float32 data, ``days since 1850-01-01`` times with
the data's own calendar, zlib level 1 in NetCDF) and drops encodings left
over from the file the data was read from.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import cftime
import xarray as xr

from climviz.data.grid import CALENDAR, TIME_UNITS

NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf")
ZARR_SUFFIXES = (".zarr",)


def output_format(path: str | os.PathLike) -> str:
    """``"netcdf"`` or ``"zarr"`` from the path's suffix; ``ValueError`` otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix in NETCDF_SUFFIXES:
        return "netcdf"
    if suffix in ZARR_SUFFIXES:
        return "zarr"
    raise ValueError(
        f"cannot tell the output format of {str(path)!r}: use a .nc (NetCDF) or .zarr (Zarr) suffix"
    )


def check_output_path(path: str | os.PathLike) -> str:
    """:func:`output_format` of ``path`` after checking it can be written (call before long work).

    Raises ``ValueError`` for a suffix that is neither NetCDF nor Zarr and
    ``NotADirectoryError``/``PermissionError`` when the nearest existing parent
    is a file or not writable.
    """
    fmt = output_format(path)
    parent = Path(path).absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"cannot write {str(path)!r}: {str(parent)!r} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {str(path)!r}: the directory {str(parent)!r} is not writable")
    return fmt


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file (or Zarr directory) is removed and
    ``path`` is left as it was. The temporary name,
    ``.NAME.partial-HOST-PID-XXXXXXXX.SUFFIX``, says who writes it: temporaries
    of ``path`` left by a process of this host that no longer runs (killed
    with SIGKILL, or the machine lost power) are removed before writing.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final)
    tmp = final.with_name(
        f"{_partial_prefix(final)}{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}{final.suffix}"
    )
    try:
        yield tmp
        if final.exists() and (final.is_dir() or tmp.is_dir()) and not final.is_symlink():
            _remove(final)  # os.replace cannot put a directory over a file, or onto one
        os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise


_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:40] or "host"


def _partial_prefix(final: Path) -> str:
    return f".{final.name}.partial-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_partials(final: Path) -> list[Path]:
    """Remove the temporaries of ``final`` whose writer (a process of this host) is gone; return them."""
    prefix = _partial_prefix(final)
    pattern = re.compile(re.escape(prefix) + re.escape(_HOST) + r"-(\d+)-[0-9a-f]{8}")
    removed = []
    if not final.parent.is_dir():
        return removed
    for p in final.parent.iterdir():
        m = pattern.match(p.name)
        if m and not _pid_alive(int(m.group(1))):
            _remove(p)
            removed.append(p)
    return removed


def _calendar(var: xr.Variable) -> str | None:
    """The calendar of a time variable, or ``None`` if ``var`` does not hold dates."""
    if var.dtype.kind == "M":
        return var.encoding.get("calendar", CALENDAR)
    if var.dtype.kind == "O" and var.size and isinstance(var.values.flat[0], cftime.datetime):
        return var.values.flat[0].calendar
    return None


def default_encoding(ds: xr.Dataset, fmt: str) -> dict[str, dict]:
    """Encodings :func:`write_dataset` uses for ``fmt`` (``"netcdf"`` or ``"zarr"``).

    Float data variables are stored as float32 (zlib level 1 in NetCDF); every
    date variable as float64 ``days since 1850-01-01`` in its own calendar;
    float coordinates get no ``_FillValue``.
    """
    enc: dict[str, dict] = {}
    for name, var in ds.variables.items():
        cal = _calendar(var)
        if cal is not None:
            enc[name] = {"units": TIME_UNITS, "calendar": cal, "dtype": "float64"}
        elif var.dtype.kind == "f" and name in ds.data_vars:
            enc[name] = {"dtype": "float32"}
            if fmt == "netcdf":
                enc[name].update(zlib=True, complevel=1)
        elif var.dtype.kind == "f" and name in ds.coords:
            enc[name] = {"_FillValue": None}
    return enc


def _uniform_chunks(ds: xr.Dataset) -> xr.Dataset:
    """Zarr needs equal Dask chunks (but the last); sorting or wrapping can break that."""
    try:
        chunks = ds.chunks
    except ValueError:  # variables chunked differently along one dim
        ds = ds.unify_chunks()
        chunks = ds.chunks
    target = {}
    for dim, sizes in chunks.items():
        if len(set(sizes[:-1])) > 1 or (len(sizes) > 1 and sizes[-1] > sizes[0]):
            target[dim] = max(sizes)
    return ds.chunk(target) if target else ds


def write_dataset(ds: xr.Dataset | xr.DataArray, path: str | os.PathLike, **kwargs) -> Path:
    """Write ``ds`` to ``path`` (NetCDF or Zarr by suffix) atomically; return the path.

    Encodings come from :func:`default_encoding`; ``encoding=`` in ``kwargs``
    overrides them per variable and key. Other ``kwargs`` go to
    ``to_netcdf``/``to_zarr`` (Zarr defaults to ``zarr_format=2``). Nothing
    is left at ``path`` (or beside it) if writing fails.
    """
    fmt = output_format(path)
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name=ds.name or "data")
    ds = ds.copy(deep=False)
    for var in ds.variables.values():
        var.encoding = {}  # chunk sizes, packing, fill values of the file it came from
    encoding = default_encoding(ds, fmt)
    for name, extra in (kwargs.pop("encoding", None) or {}).items():
        encoding[name] = {**encoding.get(name, {}), **extra}
    with atomic_path(path) as tmp:
        if fmt == "netcdf":
            ds.to_netcdf(tmp, encoding=encoding, **kwargs)
        else:
            kwargs.setdefault("zarr_format", 2)  # consolidated metadata, readable everywhere
            _uniform_chunks(ds).to_zarr(tmp, mode="w", encoding=encoding, **kwargs)
    return Path(path)
