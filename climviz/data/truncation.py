"""Catch a truncated NetCDF file from its header, before any reader sees it.

Both NetCDF flavours can hide a truncation from the reader:

* NetCDF-3 readers return zeros past the end of the file. scipy's reader maps
  every variable onto the file at open time and fails when the file is
  shorter than its header promises, so it is used as the check.
* NetCDF-4 (HDF5) fails at open time, *unless* this process already holds the
  same file open: HDF5 then shares the open file, its metadata and its sieve
  buffer, and serves the old contents of a file that has since been cut short.
  The superblock records where the file ends; comparing that with the size on
  disk catches the truncation whatever is open.

Raw superblock layout: https://docs.hdfgroup.org/hdf5/develop/_f_m_t3.html
"""

from __future__ import annotations

import warnings
from pathlib import Path

from climviz.data.canonical import DataError, _reason

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02")


def check_not_truncated(path: Path) -> None:
    """Raise :class:`DataError` if ``path`` is a NetCDF file shorter than its header says.

    Files that are neither NetCDF-3 nor HDF5 pass through: the reader judges them.
    """
    with open(path, "rb") as fh:
        if fh.read(4) in NETCDF3_MAGIC:
            _check_classic(path, fh)
            return
    end = hdf5_end_of_file(path)
    size = path.stat().st_size
    if end is not None and size < end:
        raise DataError(
            f"{path} is truncated or corrupt: the file has {size} bytes but its "
            f"HDF5 header says it ends at byte {end}"
        )


def _check_classic(path: Path, fh) -> None:
    from scipy.io import netcdf_file

    fh.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            netcdf_file(fh, "r", mmap=True).close()
    except Exception as err:
        raise DataError(
            f"{path} is truncated or corrupt: the file is shorter than its "
            f"NetCDF header says ({_reason(err)})"
        ) from err


def hdf5_end_of_file(path: Path) -> int | None:
    """End-of-file offset recorded in the HDF5 superblock, or None if not HDF5.

    The superblock sits at byte 0, 512, 1024, 2048, ... (a user block may come
    first). Versions 0 and 1 keep the end-of-file address after the base and
    free-space addresses; versions 2 and 3 after the base and extension addresses.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        offset = 0
        while offset + len(HDF5_SIGNATURE) <= size:
            fh.seek(offset)
            if fh.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return _end_from_superblock(fh, offset)
            offset = 512 if offset == 0 else offset * 2
    return None


def _end_from_superblock(fh, start: int) -> int | None:
    fh.seek(start + 8)
    head = fh.read(20)
    if len(head) < 4:
        return None
    version = head[0]
    if version in (0, 1):
        if len(head) < 7:
            return None
        n_off = head[5]
        fh.seek(start + (24 if version == 0 else 28))
        addresses = fh.read(3 * n_off)  # base, free-space info, end of file
    elif version in (2, 3):
        n_off = head[1]
        fh.seek(start + 12)
        addresses = fh.read(3 * n_off)  # base, superblock extension, end of file
    else:
        return None
    if n_off not in (2, 4, 8) or len(addresses) < 3 * n_off:
        return None
    end = int.from_bytes(addresses[2 * n_off :], "little")  # absolute: counts any user block
    return None if end == (1 << (8 * n_off)) - 1 else end  # all ones: undefined
