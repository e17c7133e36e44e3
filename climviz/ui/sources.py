"""Data and models the app shows, made or loaded once per process (no Panel here).

Models live below one root (``CLIMVIZ_MODEL_DIR``, default ``models/`` next to
``app.py``): ``ensemble/`` (VAE + latent diffusion), ``taudiff/`` and
``taudiff-baseline/``. Loaders are cached per process and return ``(model, note)``:
``model`` is ``None`` when the directory is missing or broken, and ``note``
says why in words fit for the page.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

import xarray as xr

from climviz.data.toy_ensemble import toy_ensemble

APP_GRID = (48, 96)  # the grid of the shipped ensemble generator
APP_SEED = 0  # the embedded ensemble's seed
N_EMBEDDED = 30  # members of the embedded ensemble (0-24 train the shipped model)
MODEL_DIR_ENV = "CLIMVIZ_MODEL_DIR"
SYNTHETIC_NOTE = (
    "Embedded default data: a SYNTHETIC grand ensemble made by climviz from a stochastic, "
    "physically motivated model (two-box energy balance response to historical CO2 and volcanic "
    "forcing, a recharge-oscillator ENSO, spatially correlated red noise). It is not observations "
    "and not output of a climate model."
)
WIND_NOTE = (
    "Embedded default wind: SYNTHETIC u/v from a forced spherical shallow-water model "
    "(torch-harmonics), not reanalysis."
)

_LOCK = threading.Lock()


@functools.lru_cache(maxsize=8)
def embedded_ensemble(
    members: int = 10,
    start: int = 1850,
    end: int = 2005,
    grid: tuple[int, int] = APP_GRID,
    seed: int = APP_SEED,
) -> xr.DataArray:
    """Members ``0..members-1`` of the embedded synthetic ensemble, in memory (cached)."""
    return toy_ensemble(members=members, start=start, end=end, grid=grid, seed=seed)


@functools.lru_cache(maxsize=16)
def embedded_members(
    members: tuple[int, ...], start: int, end: int, grid: tuple[int, int] = APP_GRID, seed: int = APP_SEED
) -> xr.DataArray:
    """The listed members of the embedded ensemble, ``tas (member, time, lat, lon)`` in K (cached).

    Member ``k`` is the same whatever else is asked for, so held-out members
    can be made on demand.
    """
    return toy_ensemble(members=list(members), start=start, end=end, grid=grid, seed=seed)


@functools.lru_cache(maxsize=32)
def embedded_climatology(
    member: int, start: int, end: int, grid: tuple[int, int] = APP_GRID, seed: int = APP_SEED
) -> xr.DataArray:
    """Monthly climatology ``(month, lat, lon)`` in K of embedded member ``member`` over ``start``-``end`` (cached)."""
    run = embedded_members((member,), start, end, grid, seed).isel(member=0, drop=True)
    return run.groupby("time.month").mean("time")


@functools.lru_cache(maxsize=32)
def embedded_area_mean(members: int, region: str) -> xr.DataArray:
    """``(member, time)`` area-weighted mean over ``region`` (a name or box of
    :func:`~climviz.data.regions.get_region`) of :func:`embedded_ensemble` ``(members)``, in K (cached)."""
    from climviz.data.regions import get_region
    from climviz.diagnostics.means import area_mean

    return area_mean(embedded_ensemble(members=members), get_region(region))


def model_root() -> Path:
    """Where the app looks for models: ``$CLIMVIZ_MODEL_DIR`` or ``<repo>/models``."""
    env = os.environ.get(MODEL_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models"


def _note_missing(what: str, path: Path, how: str) -> str:
    return f"No {what} at `{path}`: it has not been trained yet (or {MODEL_DIR_ENV} points elsewhere). {how}"


@functools.lru_cache(maxsize=4)
def _generator(path: str):
    from climviz.pipelines.ensemble import EnsembleGenerator

    return EnsembleGenerator.from_checkpoint(path)


@functools.lru_cache(maxsize=4)
def _downscaler(path: str):
    from climviz.pipelines.downscale import load_downscaler

    return load_downscaler(path)


def load_generator(root: Path | None = None):
    """``(EnsembleGenerator | None, note)`` from ``root/ensemble``, loaded once per process
    (on CUDA when available, else the CPU)."""
    path = (root or model_root()) / "ensemble"
    if not (path / "vae").is_dir():
        return None, _note_missing(
            "ensemble generator",
            path,
            "Train it with `climviz train vae` and `climviz train ldm` (see README).",
        )
    try:
        with _LOCK:
            return _generator(str(path.resolve())), ""
    except Exception as err:  # a broken checkpoint must not kill the page
        return None, f"The ensemble generator at `{path}` could not be loaded: {err}"


def load_downscalers(root: Path | None = None):
    """``(taudiff | None, baseline | None, note)`` from ``root/taudiff`` and ``root/taudiff-baseline``."""
    root = root or model_root()
    out, notes = [], []
    for name, what in (("taudiff", "TAUDiff downscaler"), ("taudiff-baseline", "diffusion baseline")):
        path = root / name
        if not path.is_dir():
            out.append(None)
            notes.append(_note_missing(what, path, "Train it with `climviz train taudiff`."))
            continue
        try:
            with _LOCK:
                out.append(_downscaler(str(path.resolve())))
        except Exception as err:
            out.append(None)
            notes.append(f"The {what} at `{path}` could not be loaded: {err}")
    return out[0], out[1], " ".join(notes)


@functools.lru_cache(maxsize=4)
def prepare_shared(root: Path | None = None) -> None:
    """Load the models and make the embedded data the default views show, once per process.

    ``app.py`` calls it for every session (a cache lookup after the first); ``panel serve --warm``
    (``make serve``) runs ``app.py`` once before the server listens, so no visitor waits for it.
    """
    from climviz.ui.explorer import EnsembleExplorer
    from climviz.ui.generation import EnsembleGeneration

    generator, note = load_generator(root)
    load_downscalers(root)
    EnsembleGeneration(generator, note).results.prefetch()
    defaults = EnsembleExplorer.param
    embedded_area_mean(defaults.members.default, defaults.region.default)


def train_members(generator) -> list[int]:
    """Members of the embedded ensemble the generator was trained on (from its checkpoint), else 0-24."""
    import json

    try:
        cfg = json.loads((Path(generator.source) / "vae" / "config.json").read_text())
        return [int(m) for m in cfg["train_members"]]
    except Exception:
        return list(range(25))


@functools.lru_cache(maxsize=4)
def wind_case(grid: tuple[int, int], days: float, seed: int, spinup_days: float = 10.0) -> xr.Dataset:
    """A fresh synthetic wind case ``u, v (time, lat, lon)`` on ``grid`` (cached; tens of seconds at 64x128)."""
    from climviz.data.toy_wind import toy_wind

    return toy_wind(grid=grid, days=days, seed=seed, spinup_days=spinup_days)
