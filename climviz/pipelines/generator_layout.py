"""The parts of an ensemble-generator directory must fit together, checked from the configs alone.

``models/<name>/vae/config.json`` holds the grid, the normalisation and the
VAE; each ``models/<name>/<mode>/config.json`` a denoiser that works on the
VAE's latents. A grid list of the wrong length or a denoiser trained with
another VAE would otherwise load and fail later (or silently produce garbage);
:func:`check_generator_layout` says which file disagrees with which, before
any network is built.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from climviz.data.normalize import MonthlyNormalizer
from climviz.diffusion.residual_base import check_base_config
from climviz.nn.checkpoint import CheckpointError
from climviz.nn.denoisers import denoiser_config
from climviz.nn.vae import VAEConfig


def _grid_axis(values, name: str, where: str, lo: float, hi: float) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckpointError(f"{where}: grid {name} must be a list of numbers") from None
    if a.ndim != 1 or a.size < 2 or not np.isfinite(a).all():
        raise CheckpointError(f"{where}: grid {name} must be a list of at least 2 finite numbers")
    if a.min() < lo or a.max() > hi or np.any(np.diff(a) <= 0):
        raise CheckpointError(f"{where}: grid {name} must increase strictly within [{lo:g}, {hi:g}]")
    return a


def check_generator_layout(
    root, vae_config: dict, denoiser_configs: dict[str, dict]
) -> tuple[np.ndarray, np.ndarray]:
    """Check ``vae/config.json`` (``vae_config``) against each ``<mode>/config.json``.

    Returns the grid ``(lat, lon)``. Raises :class:`CheckpointError` naming the file at fault.
    """
    where = str(Path(root) / "vae" / "config.json")
    vae = VAEConfig.from_dict(vae_config["vae"])
    lat = _grid_axis(vae_config["grid"]["lat"], "lat", where, -90.0, 90.0)
    lon = _grid_axis(vae_config["grid"]["lon"], "lon", where, -360.0, 360.0)
    try:
        norm = MonthlyNormalizer.from_dict(vae_config["normalization"])
    except ValueError as err:
        raise CheckpointError(f"{where}: {err}") from None
    if norm.mean.shape[1:] != (lat.size, lon.size):
        raise CheckpointError(
            f"{where}: the grid has {lat.size}x{lon.size} points but the normalisation "
            f"statistics are {norm.mean.shape[1]}x{norm.mean.shape[2]}"
        )
    f = vae.downsampling
    if lat.size % f or lon.size % f:
        raise CheckpointError(
            f"{where}: the {lat.size}x{lon.size} grid is not divisible by the VAE's down-sampling factor {f}"
        )
    latent = (vae.latent_channels, lat.size // f, lon.size // f)
    for mode, cfg in denoiser_configs.items():
        here = str(Path(root) / mode / "config.json")
        den = denoiser_config(cfg["denoiser"])
        if cfg["mode"] != mode:
            raise CheckpointError(f"{here}: mode {cfg['mode']!r} does not match its directory {mode!r}")
        steps = cfg["schedule"]["num_train_steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 100_000:
            raise CheckpointError(
                f"{here}: schedule num_train_steps must be an integer in [1, 100000], got {steps!r}"
            )
        if tuple(den.latent_shape) != latent:
            raise CheckpointError(
                f"{here}: latent_shape {list(den.latent_shape)} does not match the latents "
                f"{list(latent)} of the VAE in {where}; were they trained together?"
            )
        try:
            check_base_config(cfg.get("residual_base"))
        except ValueError as err:
            raise CheckpointError(f"{here}: residual_base {err}") from None
        stats = cfg["latent_stats"]
        for key, shape in (("z_mean", latent), ("z_std", latent[:1]), ("res_std", latent[:1])):
            try:
                a = np.asarray(stats[key], dtype=np.float64)
            except (TypeError, ValueError):
                raise CheckpointError(f"{here}: latent_stats {key} must hold numbers") from None
            if a.shape != shape or not np.isfinite(a).all() or (key != "z_mean" and (a <= 0).any()):
                raise CheckpointError(
                    f"{here}: latent_stats {key} must be finite{'' if key == 'z_mean' else ', > 0'} "
                    f"with shape {list(shape)}, got shape {list(a.shape)}"
                )
    return lat, lon
