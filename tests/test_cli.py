"""The installed ``climviz`` command."""

import shutil
import subprocess
import sys

from climviz.cli import main


def _climviz():
    exe = shutil.which("climviz") or str(__import__("pathlib").Path(sys.executable).parent / "climviz")
    return exe


def test_help_lists_the_commands():
    out = subprocess.run([_climviz(), "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("data", "train", "generate", "evaluate", "downscale"):
        assert cmd in out
    out = subprocess.run([_climviz(), "train", "--help"], capture_output=True, text=True, check=True).stdout
    for model in ("vae", "ldm", "taudiff"):
        assert model in out


def test_bad_arguments_give_one_clear_line_and_no_file(tmp_path, capsys):
    target = tmp_path / "x.nc"
    assert main(["data", "toy-ensemble", "-o", str(target), "--grid", "96by192"]) == 2
    assert "NLATxNLON" in capsys.readouterr().err
    assert (
        main(
            [
                "data",
                "toy-ensemble",
                "-o",
                str(tmp_path / "x.csv"),
                "--members",
                "1",
                "--start",
                "1990",
                "--end",
                "1990",
                "--grid",
                "8x16",
            ]
        )
        == 2
    )
    assert ".nc" in capsys.readouterr().err
    assert (
        main(
            [
                "data",
                "toy-ensemble",
                "-o",
                str(target),
                "--members",
                "1",
                "--start",
                "1800",
                "--end",
                "1801",
                "--grid",
                "8x16",
            ]
        )
        == 2
    )
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_missing_checkpoint_is_reported(tmp_path, capsys):
    rc = main(
        [
            "generate",
            "--model-dir",
            str(tmp_path / "nothing"),
            "--cond",
            str(tmp_path / "c.nc"),
            "-o",
            str(tmp_path / "o.nc"),
        ]
    )
    assert rc == 2
    assert "does not exist" in capsys.readouterr().err


def test_progress_in_a_log_file_is_a_line_per_tenth(capsys):
    """Not a terminal (a batch job's log): the first step, then one line per tenth, each with the time."""
    from climviz.cli_progress import progress_printer

    progress = progress_printer("steps")
    for i in range(1, 101):
        progress(i, 100)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[1] for line in lines] == ["1/100"] + [f"{k}/100" for k in range(10, 101, 10)]
    assert all(line.startswith("steps: ") and line.endswith(" s)") for line in lines)
