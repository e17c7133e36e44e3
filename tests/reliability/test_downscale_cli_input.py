"""``climviz downscale`` meets bad input with one line on stderr, exit status 2 and no output file."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

from climviz.cli import main
from climviz.data.grid import gaussian_latitudes, regular_longitudes


@pytest.fixture(scope="module")
def downscaler_dir(tmp_path_factory):
    import tiny_checkpoints

    return tiny_checkpoints.train_downscaler(tmp_path_factory.mktemp("ds-models"))  # 8x16 -> 32x64


def _coarse(lat_n=8, lon_n=16, n=4, names=("u", "v"), units="m s-1", shift=0.0):
    """Random coarse winds on the Gaussian grid the tiny model takes (``shift``: its longitudes moved)."""
    rng = np.random.default_rng(0)
    lat, lon = gaussian_latitudes(lat_n), regular_longitudes(lon_n) + shift
    time = xr.date_range("2000-01-01", periods=n, freq="6h", calendar="proleptic_gregorian", use_cftime=True)
    return xr.Dataset(
        {
            v: (
                ("time", "lat", "lon"),
                rng.normal(0, 5, (n, lat_n, lon_n)).astype(np.float32),
                {"units": units},
            )
            for v in names
        },
        coords={
            "time": time,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
    )


def _write(ds, path):
    ds.to_netcdf(path)
    return path


def _run(model_dir, inp, out, capsys, *extra):
    code = main(
        [
            "downscale",
            "--model-dir",
            str(model_dir),
            "--input",
            str(inp),
            "--samples",
            "1",
            "--steps",
            "1",
            "-o",
            str(out),
            *extra,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def test_good_input_is_downscaled(downscaler_dir, tmp_path, capsys):
    """The reference case: the same command on a good file works (so the refusals below mean something)."""
    inp = _write(_coarse(), tmp_path / "coarse.nc")
    code, _ = _run(downscaler_dir, inp, tmp_path / "fine.nc", capsys)
    assert code == 0
    with xr.open_dataset(tmp_path / "fine.nc") as ds:
        assert ds["u"].shape[-2:] == (32, 64)


def test_noise_settings_reach_the_output_and_bad_ones_are_refused(downscaler_dir, tmp_path, capsys):
    inp = _write(_coarse(), tmp_path / "coarse.nc")
    out = tmp_path / "fine.nc"
    code, _ = _run(downscaler_dir, inp, out, capsys, "--noise-correlation", "0.5", "--burn-in", "2")
    assert code == 0
    with xr.open_dataset(out) as ds:
        # the tiny residual model samples frames independently: no burn-in is done, and 0 recorded
        assert ds.attrs["frame_sampling"] == "each frame independently"
        assert (ds.attrs["noise_correlation"], ds.attrs["burn_in"]) == (0.5, 0)
    for bad, message in (
        (["--noise-correlation", "1"], "noise_correlation"),
        (["--burn-in", "-1"], "burn_in"),
    ):
        code, last = _run(downscaler_dir, inp, tmp_path / "bad.nc", capsys, *bad)
        assert code == 2 and message in last, last
        assert not (tmp_path / "bad.nc").exists()


@pytest.mark.parametrize(
    "case, message",
    [
        ("random_bytes", r"cannot read|not a readable NetCDF|truncated or corrupt"),
        ("truncated", r"cannot read|not a readable NetCDF|truncated or corrupt"),
        ("no_v", r"\bv\b"),
        ("grid_3x7", r"on a 3x7 grid; this model needs the 8x16 coarse grid"),
        ("grid_shifted", r"on an 8x16 grid with other latitudes or longitudes"),
        ("nan", r"NaN"),
        ("output_csv", r"\.csv|suffix"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(case, message, downscaler_dir, tmp_path, capsys):
    good = _write(_coarse(), tmp_path / "good.nc")
    inp, out = tmp_path / f"{case}.nc", tmp_path / "out" / "fine.nc"
    if case == "random_bytes":
        inp.write_bytes(np.random.default_rng(1).bytes(4096))
    elif case == "truncated":
        inp.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif case == "no_v":
        _write(_coarse(names=("u",)), inp)
    elif case == "grid_3x7":
        _write(_coarse(3, 7), inp)
    elif case == "grid_shifted":
        _write(_coarse(shift=11.25), inp)
    elif case == "nan":
        ds = _coarse()
        ds["u"][1, 2, 3] = np.nan
        _write(ds, inp)
    elif case == "output_csv":
        inp, out = good, tmp_path / "out" / "fine.csv"
    code, last = _run(downscaler_dir, inp, out, capsys)
    assert code == 2
    assert last.startswith("climviz: error:") and re.search(message, last), last
    assert not out.exists() and (not out.parent.exists() or list(out.parent.iterdir()) == [])
