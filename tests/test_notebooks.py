"""Execute every notebook in notebooks/ top to bottom at a tiny setting (nbclient, kernel ``python3``).

A session fixture trains tiny models in seconds (an ensemble generator through the ``climviz``
command, as in tests/pipelines/conftest.py, and a TAUDiff downscaler and baseline through the
library, as in tests/pipelines/test_downscale.py) and lays them out as ``models/`` is laid out;
the notebooks read ``CLIMVIZ_MODEL_DIR`` and the ``CLIMVIZ_NB_*`` variables of their parameters
cell. A notebook fails the test when any cell raises. The stored notebooks must carry no outputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from climviz.cli import main  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
ENSEMBLE_GRID = "24x48"  # the smallest Gaussian grid with a latitude inside the Nino3.4 box (5S-5N)
WIND_GRID = (32, 64)     # fine wind grid; coarse 8x16
START, END = 1985, 1993  # Pinatubo (1991-06) with the five-year baseline the volcanic composite needs


def _build_ensemble(root: Path) -> Path:
    data = root / "toy.nc"
    assert main(["data", "toy-ensemble", "-o", str(data), "--members", "3", "--start", str(START),
                 "--end", str(END), "--grid", ENSEMBLE_GRID, "--seed", "0"]) == 0
    d = root / "ensemble"
    common = ["--data", str(data), "--model-dir", str(d), "--members", "0-2", "--steps", "4",
              "--batch-size", "4", "--checkpoint-every", "4", "--log-every", "4"]
    assert main(["train", "vae", *common, "--channels", "4,8,8", "--latent-channels", "2"]) == 0
    for mode in ("transformer", "autoregressive"):
        assert main(["train", "ldm", *common, "--mode", mode, "--d-model", "32", "--layers", "1",
                     "--heads", "2", "--window", "12"]) == 0
    return d


def _build_downscaler(root: Path) -> Path:
    from climviz.data.toy_wind import toy_wind
    from climviz.nn.cau_unet import baseline_config, residual_config
    from climviz.nn.simvp import SimVPConfig
    from climviz.pipelines.downscale_training import train_taudiff
    from climviz.train.common import LoopSettings

    wind = toy_wind(grid=WIND_GRID, days=2, seed=0, spinup_days=1)
    unet = dict(base=8, growth=4, mults=(1, 2), emb_dim=16)
    coarse = (WIND_GRID[0] // 4, WIND_GRID[1] // 4)
    d = root / "taudiff"  # the baseline goes to taudiff-baseline beside it
    train_taudiff(wind, d, stage="all", simvp_config=SimVPConfig(frames=4, coarse_shape=coarse, hid_s=8,
                                                                  hid_t=16, n_t=1),
                  residual_unet=residual_config(**unet), baseline_unet=baseline_config(**unet),
                  settings=LoopSettings(steps=2, batch_size=2, lr=1e-3, checkpoint_every=100), device="cpu")
    return d


def _kernel_available() -> None:
    """Make sure the ``python3`` kernel spec of this interpreter exists (install it into the venv if not)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
                       check=True, capture_output=True)


@pytest.fixture(scope="session")
def tiny_model_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nb_models")
    _build_ensemble(root)
    _build_downscaler(root)
    return root


@pytest.fixture(scope="session")
def notebook_env(tiny_model_root, tmp_path_factory) -> dict[str, str]:
    _kernel_available()
    return {
        "CLIMVIZ_MODEL_DIR": str(tiny_model_root),
        "OMP_NUM_THREADS": "1",            # the kernel's torch: one thread (shared small machines)
        "CLIMVIZ_NB_MEMBERS": "3",
        "CLIMVIZ_NB_STEPS": "2",
        "CLIMVIZ_NB_START": str(START),
        "CLIMVIZ_NB_END": str(END),
        "CLIMVIZ_NB_FRAMES": "4",           # 03: one mean-model window
        "CLIMVIZ_NB_SAMPLES": "2",
        "CLIMVIZ_NB_SPINUP_DAYS": "0.5",
        "CLIMVIZ_NB_GRID": ENSEMBLE_GRID,   # 04: the user's file
        "CLIMVIZ_NB_FILE_MEMBERS": "5",
        "CLIMVIZ_NB_TRAIN_STEPS": "4",
        "CLIMVIZ_NB_WORK_DIR": str(tmp_path_factory.mktemp("nb_work")),
    }


def test_notebooks_are_found_and_stored_without_outputs():
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01_generate_an_ensemble.ipynb", "02_enso_and_volcanoes.ipynb",
                     "03_downscaling_with_taudiff.ipynb", "04_bring_your_own_data.ipynb"]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs"
        # the first code cell is the parameters cell, overridable from the environment
        assert "os.environ.get(" in code[0].source, path.name
        text = " ".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
        assert "synthetic" in text, f"{path.name} does not say that its data is synthetic"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, notebook_env, monkeypatch):
    for key, value in notebook_env.items():
        monkeypatch.setenv(key, value)  # the kernel inherits this process's environment
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()  # raises CellExecutionError naming the cell that failed
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # every notebook draws something interactive (a Bokeh/HoloViews output)
    assert any("application/vnd.holoviews_exec.v0+json" in o.get("data", {}) for o in outputs), path.name
