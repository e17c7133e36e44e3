"""An interrupted write leaves nothing at the output path (NetCDF and Zarr).

In process: the writer fails half-way (a Dask chunk raises after the first was
written), with and without an older file at the path. As a real process:
``climviz generate`` is stopped with SIGTERM (it cleans up) or SIGKILL (it
cannot; the output path must still be empty) while its writer is half-way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

from climviz.cli import main
from climviz.data.io import write_dataset
from climviz.data.loader import open_ensemble

HERE = Path(__file__).parent


class DiskFull(OSError):
    pass


def _poisoned(tmp_path) -> tuple[xr.Dataset, list[int]]:
    """A Dataset whose third 12-month chunk raises; ``written`` counts the chunks computed before."""
    from toy_inputs import toy_tas

    tas = toy_tas(members=2, start=1990, end=1993)
    computed: list[int] = []

    def block(x, block_info=None):
        i = block_info[None]["chunk-location"][1]
        if i == 2:
            raise DiskFull(28, "No space left on device")
        computed.append(i)
        return x

    data = dsa.from_array(tas.values, chunks=(-1, 12, -1, -1)).map_blocks(block, dtype=tas.dtype)
    return tas.copy(data=data).to_dataset(), computed


def _leftovers(directory: Path, keep=()) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
@pytest.mark.parametrize("old_file", [False, True])
def test_writer_failing_half_way_leaves_nothing(suffix, old_file, tmp_path):
    from toy_inputs import toy_tas

    target = tmp_path / f"out{suffix}"
    old = toy_tas(members=1, start=1980, end=1980)
    if old_file:
        write_dataset(old, target)
    ds, computed = _poisoned(tmp_path)
    with dask.config.set(scheduler="synchronous"), pytest.raises(DiskFull):
        write_dataset(ds, target)
    assert computed and 2 not in computed  # the writer had begun: chunks 0 (and 1) were done
    assert _leftovers(tmp_path) == ([target.name] if old_file else [])
    if old_file:  # the old file is untouched and still reads
        back = open_ensemble(target).load()
        np.testing.assert_array_equal(back.values, old.values)


def test_cli_writer_failing_leaves_no_file(tiny_model_dir, cond_file, tmp_path, monkeypatch, capsys):
    """``climviz generate`` (in process) whose NetCDF writer fails after writing a part."""
    real = xr.Dataset.to_netcdf

    def half_then_fail(self, path, *args, **kwargs):
        real(self.isel(time=slice(0, 6)), path, *args, **kwargs)  # a real, partial file at the temporary path
        assert Path(path).exists() and Path(path).name.startswith(".generated.nc.partial-")
        raise DiskFull(28, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", half_then_fail)
    out = tmp_path / "generated.nc"
    args = [
        "generate",
        "--model-dir",
        str(tiny_model_dir),
        "--cond",
        str(cond_file),
        "--members",
        "2",
        "--steps",
        "2",
        "-o",
        str(out),
    ]
    assert main(args) == 2
    assert "No space left on device" in capsys.readouterr().err.splitlines()[-1]
    assert _leftovers(tmp_path) == []


def _start_slow_generate(model_dir, cond, out, marker) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [
        sys.executable,
        str(HERE / "slow_generate.py"),
        str(marker),
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
    ]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(marker: Path, proc: subprocess.Popen, timeout=120.0) -> None:
    end = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"generate ended before writing: {proc.communicate()}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError("generate did not start writing")
        time.sleep(0.1)


@pytest.mark.parametrize("suffix, sig", [(".zarr", signal.SIGTERM), (".nc", signal.SIGKILL)])
def test_generate_killed_while_writing_leaves_no_output(suffix, sig, tiny_model_dir, cond_file, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out, marker = out_dir / f"generated{suffix}", tmp_path / "writing"
    proc = _start_slow_generate(tiny_model_dir, cond_file, out, marker)
    _wait_for(marker, proc)
    partial = [p for p in out_dir.iterdir() if ".partial-" in p.name]
    assert len(partial) == 1 and not out.exists()  # caught half-way: the temporary sibling exists
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert not out.exists()
    if sig == signal.SIGTERM:  # cleaned up, and no traceback
        assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err
        assert _leftovers(out_dir) == []
    else:  # nothing can clean up after SIGKILL: only the
        assert proc.returncode == -signal.SIGKILL  # hidden temporary sibling is left, never the output
        assert [p.name for p in out_dir.iterdir()] == [partial[0].name] and partial[0].name.startswith(".")
        # the next write to the same path removes it: its writer (this host, that pid) is gone
        assert (
            main(
                [
                    "generate",
                    "--model-dir",
                    str(tiny_model_dir),
                    "--cond",
                    str(cond_file),
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
        assert _leftovers(out_dir) == [out.name]


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    """Only temporaries whose process is gone are removed: a running writer's (this process) stays."""
    from climviz.data.io import atomic_path, remove_stale_partials

    target = tmp_path / "x.nc"
    with atomic_path(target) as tmp:
        tmp.write_text("half")
        assert remove_stale_partials(target) == [] and tmp.exists()
        dead = tmp.with_name(tmp.name.replace(f"-{os.getpid()}-", "-999999999-"))
        dead.write_text("left by a killed writer")
        foreign = tmp_path / ".x.nc.partial-otherhost-1-0123abcd.nc"
        foreign.write_text("maybe alive on another node")
        assert remove_stale_partials(target) == [dead]
    assert _leftovers(tmp_path) == sorted([foreign.name, target.name])
