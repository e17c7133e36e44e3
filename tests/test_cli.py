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
    from climviz.cli.progress import progress_printer

    progress = progress_printer("steps")
    for i in range(1, 101):
        progress(i, 100)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[1] for line in lines] == ["1/100"] + [f"{k}/100" for k in range(10, 101, 10)]
    assert all(line.startswith("steps: ") and line.endswith(" s)") for line in lines)


def test_every_command_group_registers_the_same_way():
    """build_parser() knows every command; each group module adds its own through register(commands)."""
    import argparse
    import inspect

    from climviz import cli
    from climviz.cli.commands import Commands

    def tree(parser):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            return parser.get_default("handler")
        return {name: tree(p) for name, p in subs[0].choices.items()}

    got = tree(cli.build_parser())
    handlers = [got["data"]["toy-ensemble"], got["data"]["toy-wind"], got["generate"], got["downscale"]]
    handlers += list(got["train"].values()) + list(got["evaluate"].values())
    assert all(callable(h) for h in handlers) and len(set(handlers)) == len(handlers) == 9
    assert {k: list(v) if isinstance(v, dict) else None for k, v in got.items()} == {
        "data": ["toy-ensemble", "toy-wind"],
        "train": ["vae", "ldm", "taudiff"],
        "generate": None,
        "evaluate": ["ensemble", "downscale"],
        "downscale": None,
    }
    # one interface: register(commands), and each group alone adds only its own commands
    own = {
        "data": {"data": ["toy-ensemble", "toy-wind"]},
        "ensemble": {"train": ["vae", "ldm"], "generate": None, "evaluate": ["ensemble"]},
        "downscale": {"train": ["taudiff"], "downscale": None, "evaluate": ["downscale"]},
    }
    assert [g.__name__.rsplit(".", 1)[1] for g in cli.GROUPS] == list(own)
    for group in cli.GROUPS:
        assert list(inspect.signature(group.register).parameters) == ["commands"]
        parser = argparse.ArgumentParser()
        group.register(Commands(parser))
        alone = {k: list(v) if isinstance(v, dict) else None for k, v in tree(parser).items()}
        assert alone == own[group.__name__.rsplit(".", 1)[1]]


def test_python_m_climviz_runs_the_command():
    """``python -m climviz`` and ``python -m climviz.cli`` (what torchrun -m runs) are the command."""
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    for module in ("climviz", "climviz.cli"):
        run = subprocess.run(
            [sys.executable, "-m", module, "--help"], cwd=root, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        assert (
            run.stdout.startswith("usage: climviz ")
            and "generate" in run.stdout
            and "downscale" in run.stdout
        )
    bad = subprocess.run(
        [sys.executable, "-m", "climviz", "nonsense"], cwd=root, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "invalid choice: 'nonsense'" in bad.stderr


def test_scheduler_refuses_a_device_choice(tmp_path, capsys):
    args = ["generate", "--cond", "c.nc", "-o", str(tmp_path / "o.zarr"), "--scheduler", "local"]
    assert main([*args, "--device", "cpu"]) == 2
    assert "with --scheduler the Dask workers choose" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_train_taudiff_passes_the_residual_options(monkeypatch, capsys):
    """--cau, --condition-on-previous and --prev-drop reach the training pipeline; their defaults
    leave the pipeline's own (the configs of the shipped checkpoints)."""
    import climviz.pipelines.downscale_training as training

    calls = []
    monkeypatch.setattr(training, "train_taudiff", lambda *a, **kw: calls.append(kw) or {})
    base = ["train", "taudiff", "--data", "wind.nc", "--stage", "residual"]
    assert main(base) == 0
    assert calls[-1]["cau"] == "se" and calls[-1]["prev_residual"] is False
    assert "prev_residual_drop" not in calls[-1]
    assert main([*base, "--cau", "tau", "--condition-on-previous", "--prev-drop", "0.2"]) == 0
    assert calls[-1]["cau"] == "tau" and calls[-1]["prev_residual"] is True
    assert calls[-1]["prev_residual_drop"] == 0.2
    assert main([*base, "--prev-drop", "0.2"]) == 2
    assert "--prev-drop needs --condition-on-previous" in capsys.readouterr().err
    assert len(calls) == 2


def test_train_ldm_and_vae_pass_the_weight_average(monkeypatch, capsys):
    """--ema reaches the ensemble trainers' loop settings (0, no average, unless asked); a decay
    outside [0, 1) is refused before any training starts."""
    import climviz.cli.ensemble as cli
    import climviz.pipelines.ensemble_training as training

    calls = []
    monkeypatch.setattr(cli, "_print_regridding", lambda *a: None)
    monkeypatch.setattr(training, "train_ensemble_ldm", lambda *a, **kw: calls.append(kw) or "out")
    monkeypatch.setattr(training, "train_ensemble_vae", lambda *a, **kw: calls.append(kw) or "out")
    base = ["train", "ldm", "--data", "missing.nc", "--model-dir", "nowhere"]
    assert main(base) == 0
    assert calls[-1]["settings"].ema == 0.0
    assert main([*base, "--ema", "0.998"]) == 0
    assert calls[-1]["settings"].ema == 0.998
    assert main(["train", "vae", "--data", "missing.nc", "--model-dir", "nowhere", "--ema", "0.99"]) == 0
    assert calls[-1]["settings"].ema == 0.99
    assert main([*base, "--ema", "1"]) == 2
    assert "--ema 1.0: the decay must be in [0, 1)" in capsys.readouterr().err
    assert len(calls) == 3


def test_train_ldm_passes_the_residual_base_and_the_per_pixel_blocks(monkeypatch, capsys):
    """--base-years and --local-blocks reach the trainer (unset: the run itself, the architecture's
    default); --local-blocks is refused for an architecture without a per-pixel path."""
    import climviz.cli.ensemble as cli
    import climviz.pipelines.ensemble_training as training

    calls = []
    monkeypatch.setattr(cli, "_print_regridding", lambda *a: None)
    monkeypatch.setattr(training, "train_ensemble_ldm", lambda *a, **kw: calls.append(kw) or "out")
    base = ["train", "ldm", "--data", "missing.nc", "--model-dir", "nowhere"]
    assert main(base) == 0
    assert calls[-1]["base_years"] == 0 and "local_blocks" not in calls[-1]["architecture"]
    assert main([*base, "--base-years", "1", "--local-blocks", "3"]) == 0
    assert calls[-1]["base_years"] == 1 and calls[-1]["architecture"]["local_blocks"] == 3
    assert main([*base, "--architecture", "spacetime", "--local-blocks", "2"]) != 0
    assert "--local-blocks applies to --architecture tunet only" in capsys.readouterr().err
    assert len(calls) == 2
