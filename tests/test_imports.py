"""What importing a module loads, each in a fresh interpreter: state objects stay light.

The UI's Param state modules load neither torch nor Panel (a model is loaded
only when a tab needs it; only pages/views draw); the pipelines never load Panel;
the contracts and requests are plain Python; the CLI loads none of them until a command runs.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # `python -c` puts the working directory first on the path

UI_STATE = [
    "generation",
    "ensemble_request",
    "ensemble_results",
    "export",
    "region_choice",
    "downscaling",
    "explorer",
    "sources",
    "ensemble_analysis",
    "task",
    "jobs",
    "upload",
    "cluster",
    "point_inspect",
    "steps_sweep",
]
PIPELINES = ["ensemble", "downscale", "distributed", "ensemble_eval", "downscale_eval", "steps_sweep"]
CASES = [
    *[(f"climviz.ui.{m}", ("torch", "panel")) for m in UI_STATE],
    *[(f"climviz.pipelines.{m}", ("panel",)) for m in PIPELINES],
    ("climviz.contracts", ("torch", "numpy", "xarray", "panel")),
    ("climviz.requests", ("torch", "numpy", "xarray", "panel")),
    ("climviz.cli", ("torch", "numpy", "xarray", "panel")),  # `climviz --help` stays fast
    ("climviz.devices", ("torch",)),  # torch only once a device is resolved
]


def loaded_by(module: str, names) -> list[str]:
    """Those of ``names`` that ``import module`` puts in ``sys.modules`` of a new interpreter."""
    code = f"import json, sys, {module}; print(json.dumps([n for n in {list(names)!r} if n in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module, names", CASES, ids=[c[0] for c in CASES])
def test_import_does_not_load(module, names):
    assert loaded_by(module, names) == []


def test_the_check_sees_a_loaded_module():
    assert loaded_by("climviz.pipelines.ensemble", ("torch", "panel")) == ["torch"]
