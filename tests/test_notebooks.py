"""Execute every notebook in notebooks/ top to bottom at a tiny setting (nbclient, kernel ``python3``).

A session fixture trains tiny models in seconds (:mod:`tiny_checkpoints`: an ensemble generator
through the ``climviz`` command, a TAUDiff downscaler and baseline through the library) and lays
them out as ``models/`` is laid out;
the notebooks read ``CLIMVIZ_MODEL_DIR`` and the ``CLIMVIZ_NB_*`` variables of their parameters
cell. A notebook fails the test when any cell raises. The stored notebooks must carry no outputs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

sys.path.insert(0, str(Path(__file__).parent))
import tiny_checkpoints  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
ENSEMBLE_GRID = "24x48"  # the smallest Gaussian grid with a latitude inside the Nino3.4 box (5S-5N)
START, END = 1985, 1993  # Pinatubo (1991-06) with the five-year baseline the volcanic composite needs


def _kernel_available() -> None:
    """Make sure the ``python3`` kernel spec of this interpreter exists (install it into the venv if not)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
            check=True,
            capture_output=True,
        )


@pytest.fixture(scope="session")
def tiny_model_root(tmp_path_factory) -> Path:
    return tiny_checkpoints.build(tmp_path_factory.mktemp("nb_models"), start=START, end=END)


@pytest.fixture(scope="session")
def notebook_env(tiny_model_root, tmp_path_factory) -> dict[str, str]:
    _kernel_available()
    return {
        "CLIMVIZ_MODEL_DIR": str(tiny_model_root),
        "OMP_NUM_THREADS": "1",  # the kernel's torch: one thread (shared small machines)
        "CLIMVIZ_NB_MEMBERS": "3",
        "CLIMVIZ_NB_STEPS": "2",
        "CLIMVIZ_NB_BASELINE_STEPS": "2",
        "CLIMVIZ_NB_START": str(START),
        "CLIMVIZ_NB_END": str(END),
        "CLIMVIZ_NB_FRAMES": "4",  # 03: one mean-model window
        "CLIMVIZ_NB_SAMPLES": "2",
        "CLIMVIZ_NB_SPINUP_DAYS": "0.5",
        "CLIMVIZ_NB_GRID": ENSEMBLE_GRID,  # 04: the user's file
        "CLIMVIZ_NB_FILE_MEMBERS": "5",
        "CLIMVIZ_NB_TRAIN_STEPS": "4",
        "CLIMVIZ_NB_WORK_DIR": str(tmp_path_factory.mktemp("nb_work")),
    }


def test_notebooks_are_found_and_stored_without_outputs():
    names = [p.name for p in NOTEBOOKS]
    assert names == [
        "01_generate_an_ensemble.ipynb",
        "02_enso_and_volcanoes.ipynb",
        "03_downscaling_with_taudiff.ipynb",
        "04_bring_your_own_data.ipynb",
    ]
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
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    client.execute()  # raises CellExecutionError naming the cell that failed
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # every notebook draws something interactive (a Bokeh/HoloViews output)
    assert any("application/vnd.holoviews_exec.v0+json" in o.get("data", {}) for o in outputs), path.name
