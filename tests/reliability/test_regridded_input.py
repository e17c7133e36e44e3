"""A colleague's file on another global grid: regridded on load by the CLI, the Python API, the upload and training.

The file is what people send: ``realization`` members, ``latitude``/``longitude``
on a regular grid with both poles, latitude descending, longitude -180..180, degC,
a noleap calendar. The tiny model of ``conftest.py`` is on a cell-centred 8x16 grid.
"""

from __future__ import annotations

import cftime
import numpy as np
import pytest
import xarray as xr
from toy_inputs import grid_coords

from climviz.cli import main
from climviz.data.loader import open_run
from climviz.nn import checkpoint as ckpt
from climviz.requests import GenerationRequest

NOTE = (
    "regridded from regular 17x32 (equiangular, poles included) to regular 8x16 (equiangular, cell-centred, "
    "no poles) by spherical-harmonic transform, truncated at degree 6 (T6)"
)


def _smooth(lat, lon, month):
    """A field of degrees <= 3 in degC (so the model's T6 grid holds it exactly)."""
    la, lo = np.deg2rad(lat)[:, None], np.deg2rad(lon)[None]
    season = np.cos(2 * np.pi * month / 12)
    return (
        14.0
        - 20.0 * np.sin(la) ** 2
        + 6.0 * season * np.sin(la)
        + 4.0 * np.cos(la) ** 2 * np.sin(la) * np.cos(2 * lo)
    )


@pytest.fixture(scope="module")
def colleague_file(tmp_path_factory):
    lat, lon = np.linspace(90, -90, 17), -180.0 + np.arange(32) * 11.25
    time = [cftime.DatetimeNoLeap(1990 + m // 12, m % 12 + 1, 15) for m in range(24)]
    field = np.stack([[_smooth(lat, lon, m) + r for m in range(24)] for r in range(3)])
    ds = xr.Dataset(
        {
            "tas": (
                ("realization", "time", "latitude", "longitude"),
                field.astype(np.float32),
                {"units": "degC"},
            )
        },
        coords={"realization": [1, 2, 3], "time": time, "latitude": lat, "longitude": lon},
    )
    path = tmp_path_factory.mktemp("colleague") / "colleague.nc"
    ds.to_netcdf(path)
    return path


def _expected_k(member_offset=0.0):
    lat, lon = grid_coords()
    return np.stack([_smooth(lat, lon, m) for m in range(24)]) + 273.15 + member_offset


def test_cli_generate_regrids_says_so_and_records_it(colleague_file, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "generated.nc"
    assert (
        main(
            [
                "generate",
                "--model-dir",
                str(tiny_model_dir),
                "--cond",
                str(colleague_file),
                "--member",
                "2",
                "--members",
                "2",
                "--steps",
                "2",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert f"climviz: {colleague_file}: {NOTE}" in err.splitlines()
    with xr.open_dataset(out) as ds:
        assert ds["tas"].attrs["regridding"] == NOTE
        assert ds["tas"].shape == (2, 24, 8, 16)
        np.testing.assert_allclose(ds["lat"], grid_coords()[0], atol=1e-6)


def test_api_regrids_the_run_on_the_way_in(colleague_file, tiny_generator):
    cond = open_run(colleague_file, member=2)
    assert cond.shape == (24, 17, 32) and "regridding" not in cond.attrs
    out = tiny_generator.generate(cond.load(), GenerationRequest(n_members=2, steps=2))
    assert out.shape == (2, 24, 8, 16) and out.attrs["regridding"] == NOTE
    on_grid = open_run(colleague_file, member=2, grid=grid_coords())
    np.testing.assert_allclose(on_grid.values, _expected_k(1.0), atol=1e-4)


def test_upload_regrids_and_the_note_says_so(colleague_file, tiny_generator):
    from climviz.ui.ensemble_request import UPLOAD
    from climviz.ui.generation import EnsembleGeneration

    state = EnsembleGeneration(
        tiny_generator, "", n_members=2, steps=2, start_year=1990, end_year=1991
    ).request
    assert state.load_upload(colleague_file.read_bytes(), "colleague.nc"), state.upload_note
    assert state.cond_source == UPLOAD and f"It was {NOTE}." in state.upload_note
    np.testing.assert_allclose(state.conditioning().values, _expected_k(), atol=1e-4)  # first realization


def test_training_regrids_to_the_requested_then_the_vae_grid(colleague_file, tmp_path, capsys):
    common = [
        "--data",
        str(colleague_file),
        "--model-dir",
        str(tmp_path / "m"),
        "--steps",
        "1",
        "--batch-size",
        "4",
        "--checkpoint-every",
        "1",
        "--log-every",
        "1",
    ]
    assert (
        main(["train", "vae", *common, "--channels", "8,8", "--latent-channels", "2", "--grid", "8x16"]) == 0
    )
    assert (
        main(
            [
                "train",
                "ldm",
                *common,
                "--mode",
                "transformer",
                "--d-model",
                "16",
                "--window",
                "12",
            ]
        )
        == 0
    )
    gaussian = (
        "regridded from regular 17x32 (equiangular, poles included) to Gaussian 8x16 by "
        "spherical-harmonic transform, truncated at degree 7 (T7)"
    )
    err = capsys.readouterr().err.splitlines()
    assert err.count(f"climviz: {colleague_file}: {gaussian}") == 2
    assert ckpt.load_config(tmp_path / "m" / "vae")["regridding"] == gaussian
    assert ckpt.load_config(tmp_path / "m" / "transformer")["regridding"] == gaussian
    assert len(ckpt.load_config(tmp_path / "m" / "vae")["grid"]["lat"]) == 8
