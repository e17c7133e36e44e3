"""Bad input at every entry point: a clear one-line error, no traceback, no output left behind.

The malformed files come from :mod:`malformed` (truncated, random bytes, HDF5
without the variable, NaN, Fahrenheit, a regional box, a 10**9-member header, a
period outside the model's years, ...). Each is fed to (a) ``climviz generate``
(``main()`` in process, and the installed command in a subprocess for a few),
(b) the Python API (``open_run`` + ``EnsembleGenerator.generate``), and (c) the
app's upload handler (``EnsembleRequest.load_upload``). The downscaler's
API gets its own malformed inputs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from climviz.cli import main
from climviz.data.loader import open_run
from climviz.requests import DownscaleRequest, GenerationRequest

NAMES = [
    "truncated",
    "random_bytes",
    "empty",
    "csv_text",
    "truncated_classic",
    "hdf5_without_variable",
    "wrong_variable",
    "missing_lat",
    "fahrenheit",
    "kelvin_labelled_celsius",
    "no_units",
    "some_nan",
    "all_nan",
    "inf",
    "grid_regional",
    "grid_uneven_lat",
    "time_not_dates",
    "huge_member_claim",
]


def _generate_args(model_dir, cond, out, *extra):
    return [
        "generate",
        "--model-dir",
        str(model_dir),
        "--cond",
        str(cond),
        "--members",
        "2",
        "--steps",
        "2",
        "-o",
        str(out),
        *extra,
    ]


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("climviz: error: "), err
    return lines[0]


def test_every_malformed_file_is_built(bad_files):
    assert sorted(bad_files) == sorted(NAMES)


# ----------------------------------------------------------------------------- (a) the CLI


@pytest.mark.parametrize("name", NAMES)
def test_cli_generate_refuses_the_file(name, bad_files, tiny_model_dir, tmp_path, capsys):
    case = bad_files[name]
    out = tmp_path / "out" / "generated.nc"
    assert main(_generate_args(tiny_model_dir, case.path, out)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert re.search(case.message, line), line
    assert not out.exists() and (not out.parent.exists() or list(out.parent.iterdir()) == [])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--members", "0"], "n_members must be at least 1"),
        (["--members", str(10**9)], r"1000000000 members x 24 months would need about .* GiB of memory"),
        (["--steps", "0"], "steps"),
        (["--start", "2050-01"], "no time steps"),
        (["--member", "3"], r"member 3 not found"),
        (["--mode", "autoregressive", "--sampler", "ddpm", "--steps", "100000"], "steps"),
    ],
)
def test_cli_generate_refuses_bad_arguments(extra, message, tiny_model_dir, cond_file, tmp_path, capsys):
    out = tmp_path / "generated.nc"
    assert main(_generate_args(tiny_model_dir, cond_file, out, *extra)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert re.search(message, line), line
    assert list(tmp_path.iterdir()) == []


def test_cli_bad_output_path_is_refused_before_generating(tiny_model_dir, cond_file, tmp_path, capsys):
    assert main(_generate_args(tiny_model_dir, cond_file, tmp_path / "out.csv")) == 2
    err = capsys.readouterr().err
    assert "use a .nc (NetCDF) or .zarr (Zarr) suffix" in _one_error_line(err)
    assert "network evaluations" not in err  # refused before any sampling
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory is needed")
    assert main(_generate_args(tiny_model_dir, cond_file, blocker / "out.nc")) == 2
    _one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_cli_checkpoint_with_pickle_is_refused(tiny_model_dir, cond_file, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "vae" / "evil.pkl").write_bytes(b"\x80\x04cos\nsystem\n(S'echo owned'\ntR.")
    assert main(_generate_args(model, cond_file, tmp_path / "o.nc")) == 2
    assert "pickle" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "o.nc").exists()


def _climviz() -> str:
    return shutil.which("climviz") or str(Path(sys.executable).parent / "climviz")


@pytest.mark.parametrize("name", ["random_bytes", "huge_member_claim"])
def test_installed_command_prints_one_line_and_no_traceback(name, bad_files, tiny_model_dir, tmp_path):
    case = bad_files[name]
    out = tmp_path / "generated.zarr"
    proc = subprocess.run(
        [_climviz(), *_generate_args(tiny_model_dir, case.path, out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert re.search(case.message, _one_error_line(proc.stderr))
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- (b) the Python API


@pytest.mark.parametrize("name", NAMES)
def test_api_refuses_the_file(name, bad_files, tiny_generator):
    case = bad_files[name]
    with pytest.raises(ValueError, match=case.message):  # DataError is a ValueError
        cond = open_run(case.path).load()
        tiny_generator.generate(cond, GenerationRequest(n_members=2, steps=2))


def test_api_refuses_bad_requests(tiny_generator, cond_file):
    cond = open_run(cond_file).load()
    with pytest.raises(ValueError, match="would need about"):
        tiny_generator.generate(cond, GenerationRequest(n_members=10**9, steps=2))
    with pytest.raises(
        ValueError, match=r"mode must be one of \('transformer', 'autoregressive'\), got 'nope'"
    ):
        tiny_generator.generate(cond, GenerationRequest(n_members=2, steps=2, mode="nope"))
    g = tiny_generator
    one_mode = type(g)(
        g.vae, g.normalizer, {"transformer": g.diffusion["transformer"]}, g.lat, g.lon, device="cpu"
    )
    with pytest.raises(
        ValueError, match=r"mode 'autoregressive' is not available; this generator has \['transformer'\]"
    ):
        one_mode.generate(cond, GenerationRequest(n_members=2, steps=2, mode="autoregressive"))
    with pytest.raises(TypeError, match="GenerationRequest"):
        tiny_generator.generate(cond, 2)  # the keyword-list call of old
    with pytest.raises(TypeError, match="xarray.DataArray"):
        tiny_generator.generate(cond.values, GenerationRequest(n_members=2, steps=2))
    with pytest.raises(ValueError, match="must be in K"):
        tiny_generator.generate(
            (cond - 273.15).assign_attrs(units="degC"), GenerationRequest(n_members=2, steps=2)
        )
    with pytest.raises(ValueError, match=r"needs dims \(time, lat, lon\)"):
        tiny_generator.generate(cond.rename(lat="y"), GenerationRequest(n_members=2, steps=2))


# ----------------------------------------------------------------------------- (c) the app's upload handler


@pytest.fixture
def app_state(tiny_generator):
    from climviz.ui.generation import EnsembleGeneration

    return EnsembleGeneration(
        tiny_generator, "", n_members=2, steps=2, start_year=1990, end_year=1991
    ).request


@pytest.mark.parametrize("name", NAMES)
def test_upload_sets_a_note_and_does_not_raise(name, bad_files, app_state):
    from climviz.ui.ensemble_request import EMBEDDED

    case = bad_files[name]
    assert app_state.load_upload(case.path.read_bytes(), case.path.name) is False
    assert case.path.name in app_state.upload_note
    assert re.search(case.upload_message, app_state.upload_note), app_state.upload_note
    assert "Traceback" not in app_state.upload_note and "\n" not in app_state.upload_note.strip()
    assert app_state.cond_source == EMBEDDED and app_state.upload is None  # the previous choice stays


def test_a_good_upload_after_bad_ones_is_used(bad_files, cond_file, app_state):
    from climviz.ui.ensemble_request import UPLOAD

    assert not app_state.load_upload(bad_files["truncated"].path.read_bytes(), "t.nc")
    assert app_state.load_upload(cond_file.read_bytes(), "good.nc"), app_state.upload_note
    assert app_state.cond_source == UPLOAD and "Using **good.nc**" in app_state.upload_note


# ----------------------------------------------------------------------------- the downscaler's API


@pytest.fixture(scope="module")
def tiny_downscaler():
    """Random-weight TAUDiff parts on an 8x16 -> 32x64 grid (injected, as in tests/pipelines)."""
    import torch

    from climviz.data.grid import gaussian_latitudes, regular_longitudes
    from climviz.diffusion.schedule import CosineSchedule
    from climviz.nn.cau_unet import CAUUNet, residual_config
    from climviz.nn.simvp import SimVP, SimVPConfig
    from climviz.pipelines.downscale import Downscaler, FrameDiffusion
    from climviz.train.taudiff import grid_dict

    torch.manual_seed(0)
    grid = grid_dict(
        gaussian_latitudes(8), regular_longitudes(16), gaussian_latitudes(32), regular_longitudes(64)
    )
    mean = SimVP(SimVPConfig(frames=4, coarse_shape=(8, 16), hid_s=8, hid_t=16, n_t=1)).eval()
    res = FrameDiffusion(
        CAUUNet(residual_config(base=8, growth=4, mults=(1, 2), emb_dim=16)).eval(),
        CosineSchedule(100),
        [1.0, 1.0],
    )
    norm = {"variables": ["u", "v"], "mean": [5.0, 0.0], "std": [10.0, 8.0]}
    return Downscaler(mean, res, norm, grid, device="cpu")


def _winds(d, n=4, lat=None, lon=None):
    lat = d.coarse_lat if lat is None else lat
    lon = d.coarse_lon if lon is None else lon
    rng = np.random.default_rng(0)
    time = xr.date_range("2000-01-01", periods=n, freq="6h", calendar="proleptic_gregorian", use_cftime=True)
    shape = (n, len(lat), len(lon))
    return xr.Dataset(
        {
            v: (("time", "lat", "lon"), rng.normal(0, 5, shape).astype(np.float32), {"units": "m s-1"})
            for v in ("u", "v")
        },
        coords={"time": time, "lat": lat, "lon": lon},
    )


def test_downscaler_refuses_bad_input(tiny_downscaler):
    d = tiny_downscaler
    good = _winds(d)
    reference = d.downscale(good, DownscaleRequest(n_samples=1, steps=1))
    assert reference["u"].shape == (1, 4, 32, 64)  # the reference works
    nan = good.copy(deep=True)
    nan["u"][1, 2, 3] = np.nan
    inf = good.copy(deep=True)
    inf["v"][0, 0, 0] = np.inf
    bad = [
        (good.drop_vars("v"), r"lacks \['v'\]"),
        (good.rename(u="speed"), r"lacks \['u'\]"),
        (good.isel(time=slice(0, 0)), "no time steps"),
        (good.isel(lat=0), r"needs dims \(time, lat, lon\)"),
        (
            _winds(d, lat=np.linspace(-60, 60, 3), lon=np.arange(7) * 360 / 7),
            "3x7 grid; this model needs the 8x16",
        ),
        (nan, "u contains NaN or infinite values"),
        (inf, "v contains NaN or infinite values"),
    ]
    for ds, message in bad:
        with pytest.raises(ValueError, match=message):
            d.downscale(ds, DownscaleRequest(n_samples=1, steps=1))
    with pytest.raises(TypeError, match="xarray.Dataset"):
        d.downscale(good["u"], DownscaleRequest(n_samples=1, steps=1))
    for kwargs, message in (
        ({"n_samples": 0}, "n_samples must be at least 1"),
        ({"steps": 0}, "steps must be"),
        ({"n_samples": 10**9}, "1000000000 samples x 4 frames would need about"),
    ):
        with pytest.raises(ValueError, match=message):
            d.downscale(good, DownscaleRequest(**{"n_samples": 1, "steps": 1, **kwargs}))
