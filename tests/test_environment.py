"""pyproject.toml and environment.yml must name the same packages and pins."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from the PyPI names
CONDA_TO_PYPI = {"pytorch": "torch", "cf_xarray": "cf-xarray", "netcdf4": "netcdf4"}


def _split(requirement: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[.*\])?\s*(.*)$", requirement)
    name, spec = m.group(1).lower().replace("_", "-"), m.group(2).strip()
    return name, spec


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return dict(_split(r) for r in reqs)


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for pip_req in dep.get("pip", []):
                if not pip_req.startswith("-"):
                    name, spec = _split(pip_req)
                    out[name] = spec
            continue
        name, _, version = dep.partition("=")
        name = CONDA_TO_PYPI.get(name, name).lower().replace("_", "-")
        if name in ("python", "pip"):
            continue
        out[name] = f"=={version}" if version else ""
    return out


def test_same_packages():
    py, conda = _pyproject(), _conda()
    assert sorted(set(py) - set(conda)) == [], "in pyproject.toml only"
    assert sorted(set(conda) - set(py)) == [], "in environment.yml only"


def test_same_pins():
    py, conda = _pyproject(), _conda()
    pinned = {k: v for k, v in py.items() if v.startswith("==")}
    assert pinned, "pyproject.toml pins torch, torch-harmonics and cartopy"
    for name, spec in pinned.items():
        assert conda[name] == spec, f"{name}: pyproject {spec!r} vs environment.yml {conda[name]!r}"
