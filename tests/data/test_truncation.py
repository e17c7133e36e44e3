"""The HDF5 end-of-file check, against files written by h5py (an independent writer)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from climviz.data.loader import DataError
from climviz.data.truncation import check_not_truncated, hdf5_end_of_file


@pytest.mark.parametrize("libver", ["earliest", "v108", "latest"])  # superblock 0, 2, 3
@pytest.mark.parametrize("userblock", [0, 512, 2048])
def test_end_of_file_is_the_file_size_for_a_whole_file(tmp_path, libver, userblock):
    path = tmp_path / "whole.h5"
    with h5py.File(path, "w", libver=libver, userblock_size=userblock) as f:
        f["x"] = np.arange(5000.0)
    assert hdf5_end_of_file(path) == path.stat().st_size
    check_not_truncated(path)
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size - 100)
    with pytest.raises(DataError, match="whole.h5 is truncated.*ends at byte"):
        check_not_truncated(path)


def test_files_that_are_not_hdf5_are_left_to_the_reader(tmp_path):
    text = tmp_path / "notes.nc"
    text.write_bytes(b"\\x89HDF but not a signature" * 40)
    assert hdf5_end_of_file(text) is None
    check_not_truncated(text)
    empty = tmp_path / "empty.nc"
    empty.write_bytes(b"")
    assert hdf5_end_of_file(empty) is None


def test_a_cut_superblock_is_not_read_past_its_end(tmp_path):
    path = tmp_path / "head.h5"
    with h5py.File(path, "w", libver="latest") as f:
        f["x"] = np.zeros(10)
    with open(path, "r+b") as fh:
        fh.truncate(14)  # the signature and part of the superblock only
    assert hdf5_end_of_file(path) is None  # too short to say; the reader will refuse it
