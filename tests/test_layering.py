"""Imports only point down (the layering in climviz/__init__.py), read from the source with ``ast``.

Every import counts, also those inside functions, and climviz modules are followed
to what they import in turn: an inference pipeline that imports a training
pipeline imports ``climviz.train`` as surely as one that imports it directly.
"""

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "climviz"
INFERENCE_PIPELINES = [
    "ensemble",
    "downscale",
    "downscale_eval",
    "frame_diffusion",
    "distributed",
    "generator_layout",
    "ensemble_figures",
    "downscale_figures",
    "ensemble_eval",
    "wind_data",
    "steps_sweep",
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """Absolute names of everything ``path`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (climviz uses absolute imports)"
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


@cache
def _reached(name: str) -> frozenset[str]:
    """Names imported by climviz module ``name`` and, through climviz modules, by those it imports."""
    seen, todo = set(), [name]
    while todo:
        path = MODULES.get(todo.pop())
        if path is None:
            continue
        for imp in _imports(path):
            if imp not in seen:
                seen.add(imp)
                todo.append(imp)
    return frozenset(seen)


def _offending(names, forbidden) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))


def test_the_source_tree_is_read():
    assert "climviz.pipelines.downscale" in MODULES and "climviz.nn.simvp" in MODULES
    assert "climviz.nn.wind_fields" in _reached("climviz.pipelines.downscale")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("climviz.nn")))
def test_nn_imports_no_data_no_xarray_no_panel(module):
    assert _offending(_reached(module), ["climviz.data", "xarray", "panel"]) == []


@pytest.mark.parametrize("name", INFERENCE_PIPELINES)
def test_inference_pipelines_do_not_import_train(name):
    assert _offending(_reached(f"climviz.pipelines.{name}"), ["climviz.train"]) == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith("climviz.ui")))
def test_only_the_ui_imports_panel(module):
    assert _offending(_imports(MODULES[module]), ["panel"]) == []
