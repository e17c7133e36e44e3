"""Toy conditioning runs for the reliability tests (imported by name: ``conftest`` is ambiguous
when several test folders have one)."""

from __future__ import annotations

import cftime
import numpy as np
import xarray as xr

GRID = (8, 16)
YEARS = (1990, 1991)


def grid_coords(grid=GRID) -> tuple[np.ndarray, np.ndarray]:
    """Evenly spaced latitudes (no poles) and longitudes ``[0, 360)``."""
    nlat, nlon = grid
    return np.linspace(-90 + 90 / nlat, 90 - 90 / nlat, nlat), np.arange(nlon) * 360.0 / nlon


def toy_tas(members=1, start=YEARS[0], end=YEARS[1], grid=GRID, seed=0) -> xr.DataArray:
    """Smooth monthly temperatures in K ``(member, time, lat, lon)``: a meridional profile, a
    seasonal cycle and member noise, as CF as the loader wants them."""
    rng = np.random.default_rng(seed)
    lat, lon = grid_coords(grid)
    n = 12 * (end - start + 1)
    time = np.array([cftime.DatetimeProlepticGregorian(start + m // 12, m % 12 + 1, 15) for m in range(n)])
    season = np.cos(2 * np.pi * (np.arange(n) % 12) / 12)[:, None, None] * np.sin(np.deg2rad(lat))[:, None]
    base = 255 + 40 * np.cos(np.deg2rad(lat))[:, None] + 10 * season
    values = base[None] + rng.normal(0, 1.0, (members, n, *grid))
    return xr.DataArray(
        values.astype(np.float32),
        dims=("member", "time", "lat", "lon"),
        name="tas",
        coords={"member": np.arange(members), "time": time, "lat": lat, "lon": lon},
        attrs={"units": "K", "standard_name": "air_temperature"},
    )
