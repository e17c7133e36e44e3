"""Data the app shows, made or loaded once per process."""

from __future__ import annotations

import functools

import xarray as xr

from climviz.data.toy_ensemble import toy_ensemble

APP_GRID = (48, 96)          # the grid of the shipped ensemble generator
APP_SEED = 0                 # the embedded ensemble's seed
SYNTHETIC_NOTE = (
    "Embedded default data: a SYNTHETIC grand ensemble made by climviz from a stochastic, "
    "physically motivated model (two-box energy balance response to historical CO2 and volcanic "
    "forcing, a recharge-oscillator ENSO, spatially correlated red noise). It is not observations "
    "and not output of a climate model."
)


@functools.lru_cache(maxsize=8)
def embedded_ensemble(members: int = 10, start: int = 1850, end: int = 2005,
                      grid: tuple[int, int] = APP_GRID, seed: int = APP_SEED) -> xr.DataArray:
    """Members ``0..members-1`` of the embedded synthetic ensemble, in memory (cached)."""
    return toy_ensemble(members=members, start=start, end=end, grid=grid, seed=seed)
