"""Writing data sets: NetCDF or Zarr chosen by the suffix, always atomically.

Every writer goes through :func:`atomic_path`: the data is written to a
temporary sibling and renamed into place only when complete, so an interrupted
run never leaves a file that looks finished.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import xarray as xr

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
    ``path`` is left as it was.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.partial-{uuid.uuid4().hex[:8]}{final.suffix}")
    try:
        yield tmp
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise


def write_dataset(ds: xr.Dataset | xr.DataArray, path: str | os.PathLike, **kwargs) -> Path:
    """Write ``ds`` to ``path`` (NetCDF or Zarr by suffix) atomically; return the path."""
    fmt = output_format(path)
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name=ds.name or "data")
    with atomic_path(path) as tmp:
        if fmt == "netcdf":
            ds.to_netcdf(tmp, **kwargs)
        else:
            ds.to_zarr(tmp, mode="w", **kwargs)
    return Path(path)
