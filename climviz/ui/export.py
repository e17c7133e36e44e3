"""A generated ensemble as a CF-1.8 NetCDF download (no Panel, no torch here)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import xarray as xr


def ensemble_dataset(ens: xr.DataArray | None, synthetic: bool = True) -> xr.Dataset:
    """``ens (member, time, lat, lon)`` as a CF Dataset ``tas``; ``synthetic``: whether its
    conditioning run came from the embedded synthetic ensemble (else a user's upload).
    ``ValueError`` when nothing was generated (``ens`` is None)."""
    if ens is None:
        raise ValueError("nothing generated yet")
    ds = ens.to_dataset(name="tas")
    ds["lat"].attrs.update(standard_name="latitude", units="degrees_north", axis="Y")
    ds["lon"].attrs.update(standard_name="longitude", units="degrees_east", axis="X")
    ds["time"].attrs.update(standard_name="time", axis="T")
    ds.attrs.update(ens.attrs)
    ds.attrs.update(
        {
            "Conventions": "CF-1.8",
            "title": "climviz generated ensemble",
            "synthetic": "yes" if synthetic else "conditioning run uploaded by the user",
        }
    )
    return ds


def netcdf_bytes(ds: xr.Dataset) -> io.BytesIO:
    """NetCDF bytes of ``ds`` (written by :func:`climviz.data.io.write_dataset`, for a download button)."""
    from climviz.data.io import write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        path = write_dataset(ds, Path(tmp) / "generated.nc")
        return io.BytesIO(Path(path).read_bytes())


def export_netcdf(results) -> io.BytesIO:
    """The shown result of an :class:`~climviz.ui.ensemble_results.EnsembleResults` as NetCDF bytes."""
    return netcdf_bytes(ensemble_dataset(results.result, results.result_has_truth))
