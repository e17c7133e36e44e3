"""Train the ensemble generator from a CF ensemble file (xarray in, checkpoints out).

``models/<name>/vae``, ``models/<name>/transformer`` and
``models/<name>/autoregressive`` together form one generator directory
(see :meth:`climviz.pipelines.ensemble.EnsembleGenerator.from_checkpoint`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from climviz.data.grid import cell_area_weights, decimal_years, global_grid
from climviz.data.loader import open_ensemble
from climviz.data.normalize import MonthlyNormalizer
from climviz.nn import checkpoint as ckpt
from climviz.nn.denoisers import TEMPORAL, denoiser_config
from climviz.nn.vae import VAE, VAEConfig
from climviz.train import distributed
from climviz.train.common import LoopSettings, default_device
from climviz.train.ldm import train_ldm
from climviz.train.streaming import FrameSource, fit_normalizer, read_member
from climviz.train.vae import encode_frames, train_decoder, train_vae


def parse_members(spec: str | None) -> list[int] | None:
    """``"0-24"``, ``"0,3,5"`` or ``"0-9,20"`` -> list of member labels; None stays None."""
    if spec is None or spec == "":
        return None
    out: list[int] = []
    for part in str(spec).split(","):
        if "-" in part:
            a, b = (int(v) for v in part.split("-"))
            if b < a:
                raise ValueError(f"member range {part!r} runs backwards")
            out += list(range(a, b + 1))
        else:
            out.append(int(part))
    return out


def open_training_array(data, members=None, *, var=None, grid=None):
    """Open ``(member, time, lat, lon)`` of ``data`` for training, lazily (files stay on disk).

    Returns ``(tas DataArray, months [T] 1..12)``; batches are read from
    ``tas`` as training needs them (see :mod:`climviz.train.streaming`).
    ``grid = (lat, lon)``: data on another global grid is regridded to it as it
    is read (``tas.attrs["regridding"]`` says how; see :mod:`climviz.data.regrid`).
    """
    tas = open_ensemble(data, var=var, member=members, require_global=True, grid=grid)
    if tas.sizes["member"] < 2:
        raise ValueError("training the ensemble generator needs at least two members")
    if tas.sizes["time"] < 24:
        raise ValueError("training needs at least 24 months of data")
    months = np.asarray(tas["time"].dt.month.values)
    return tas, months


def _open_on_vae_grid(data, members, vae_cfg: dict):
    """:func:`open_training_array` of ``data`` on the grid of the VAE whose config is ``vae_cfg``."""
    grid = vae_cfg["grid"]
    tas, months = open_training_array(data, members, grid=(grid["lat"], grid["lon"]))
    if not np.allclose(tas["lat"].values, grid["lat"], atol=1e-3):
        raise ValueError("the data's grid differs from the VAE's grid")
    return tas, months


def _provenance(tas, data) -> dict:
    return {
        "data": str(data),
        "data_synthetic": str(tas.attrs.get("synthetic", "unknown")),
        "train_members": [
            int(m) if np.issubdtype(type(m), np.integer) else str(m) for m in tas["member"].values.tolist()
        ],
        "period": [str(tas["time"].values[0]), str(tas["time"].values[-1])],
        **{k: v for k, v in tas.attrs.items() if k == "regridding"},
    }


def train_ensemble_vae(
    data,
    out_dir,
    *,
    members=None,
    settings: LoopSettings | None = None,
    vae_config: VAEConfig | None = None,
    beta: float = 1e-4,
    resume=True,
    progress=None,
    device=None,
    grid: tuple[int, int] | None = None,
) -> Path:
    """Fit the monthly normaliser and the VAE on ``members`` of ``data``; write ``out_dir``.

    ``grid = (nlat, nlon)``: train on that Gaussian grid, regridding the data to it
    (default: the data's own grid).
    """
    settings = settings or LoopSettings(steps=4000, batch_size=32, lr=2e-3)
    vae_config = vae_config or VAEConfig(channels=[16, 32, 64], latent_channels=4)
    tas, months = open_training_array(data, members, grid=None if grid is None else global_grid(*grid))
    norm = fit_normalizer(tas, months)  # one streaming pass over the files
    frames = FrameSource(tas, months, norm)  # each batch reads only its frames
    lat, lon = tas["lat"].values, tas["lon"].values
    extra = {
        "normalization": norm.to_dict(),
        "grid": {"lat": lat.tolist(), "lon": lon.tolist()},
        **_provenance(tas, data),
        "settings": vars(settings),
    }
    train_vae(
        frames,
        cell_area_weights(lat),
        vae_config,
        out_dir,
        settings,
        beta=beta,
        extra_config=extra,
        resume=resume,
        progress=progress,
        device=device,
    )
    return Path(out_dir)


def train_ensemble_decoder(
    data,
    vae_dir,
    out_dir,
    decoder_channels: list[int],
    *,
    members=None,
    settings: LoopSettings | None = None,
    resume=True,
    progress=None,
    device=None,
) -> Path:
    """A copy of ``vae_dir`` with a new decoder of widths ``decoder_channels`` in ``out_dir``.

    The encoder, normaliser and grid are ``vae_dir``'s, unchanged, so latent diffusion
    models trained with ``vae_dir`` work with ``out_dir`` too
    (:func:`climviz.train.vae.train_decoder`). Trained on ``members`` of ``data``.
    """
    import dataclasses

    settings = settings or LoopSettings(steps=3000, batch_size=32, lr=2e-3)
    device = device or default_device()
    src, norm, src_cfg = load_vae(vae_dir, device)
    tas, months = _open_on_vae_grid(data, members, src_cfg)
    cfg = dataclasses.replace(src.cfg, decoder_channels=[int(c) for c in decoder_channels])
    cfg.check()
    extra = {
        "normalization": src_cfg["normalization"],
        "grid": src_cfg["grid"],
        **_provenance(tas, data),
        "encoder_from": str(vae_dir),
        **({"beta": src_cfg["beta"]} if "beta" in src_cfg else {}),
        "settings": vars(settings),
    }
    train_decoder(
        FrameSource(tas, months, norm),
        cell_area_weights(tas["lat"].values),
        src,
        cfg,
        out_dir,
        settings,
        extra_config=extra,
        resume=resume,
        progress=progress,
        device=device,
    )
    return Path(out_dir)


def load_vae(vae_dir, device=None) -> tuple[VAE, MonthlyNormalizer, dict]:
    """The VAE, its normaliser and its config from ``vae_dir``."""
    cfg = ckpt.load_config(vae_dir)
    if cfg.get("kind") != "vae":
        raise ckpt.CheckpointError(f"{vae_dir}: not a VAE checkpoint")
    vae = ckpt.load_model(vae_dir, VAE, VAEConfig.from_dict(cfg["vae"]), device or "cpu")
    return vae.eval(), MonthlyNormalizer.from_dict(cfg["normalization"]), cfg


def encode_ensemble(vae: VAE, norm: MonthlyNormalizer, values, months: np.ndarray) -> np.ndarray:
    """``values [M, T, H, W]`` (K) -> VAE posterior means ``[M, T, C, h, w]``.

    ``values`` may be lazy (a Dask-backed DataArray): it is read one member at a time.
    """
    out = None
    for m in range(values.shape[0]):
        z = encode_frames(vae, norm.normalize(read_member(values, m), months))
        if out is None:
            out = np.empty((values.shape[0], *z.shape), z.dtype)
        out[m] = z
    return out


def train_ensemble_ldm(
    data,
    model_dir,
    *,
    mode="transformer",
    members=None,
    settings: LoopSettings | None = None,
    architecture: dict | None = None,
    period: tuple[int, int] | None = None,
    resume=True,
    progress=None,
    device=None,
    lowfreq_weight: float = 0.0,
    base_years: int = 0,
    init_from=None,
) -> Path:
    """Encode ``members`` of ``data`` with ``model_dir/vae`` and train ``model_dir/<mode>``.

    ``architecture`` names the network (``{"architecture": "tunet"}``, the
    default, or ``"temporal"``; see :mod:`climviz.nn.denoisers`) and overrides
    its config fields (``d_model``, ``n_layers``, ``window``, ...). ``period``
    ``(first year, last year)`` trains on those years only. ``mode="both"``
    trains one network for both ways of sampling into ``model_dir/transformer``
    and copies it to ``model_dir/autoregressive``. ``lowfreq_weight``
    and ``base_years``: see :func:`climviz.train.ldm.train_ldm`; so is ``init_from`` (fine-tune from those weights).
    """
    settings = settings or LoopSettings(steps=4000, batch_size=32, lr=5e-4)
    device = device or default_device()
    vae, norm, vae_cfg = load_vae(Path(model_dir) / "vae", device)
    tas, months = _open_on_vae_grid(data, members, vae_cfg)
    if period is not None:
        tas = tas.sel(time=slice(f"{int(period[0]):04d}", f"{int(period[1]):04d}"))
        if tas.sizes["time"] < 24:
            raise ValueError(f"the period {period[0]}-{period[1]} holds fewer than 24 months of the data")
        months = np.asarray(tas["time"].dt.month.values)
    latents = _cached_latents(
        Path(model_dir) / "vae", data, tas, lambda: encode_ensemble(vae, norm, tas, months)
    )
    years = decimal_years(tas["time"].values)
    span = (float(np.floor(years[0])), float(np.floor(years[-1]) + 1))
    arch = dict(architecture or {})
    kind = arch.pop("architecture", "tunet")
    fields = {
        "latent_shape": tuple(latents.shape[2:]),
        **({"years": span} if kind == TEMPORAL else {}),
        **arch,
    }
    cfg = denoiser_config(fields, architecture=kind)
    out_dir = Path(model_dir) / ("transformer" if mode == "both" else mode)
    extra = {**_provenance(tas, data), "settings": vars(settings)}
    if mode == "both":
        extra.update(mode="transformer", sampling_modes=["transformer", "autoregressive"])
    train_ldm(
        latents,
        months - 1,
        years,
        cfg,
        out_dir,
        settings,
        mode=mode,
        extra_config=extra,
        resume=resume,
        progress=progress,
        device=device,
        lowfreq_weight=lowfreq_weight,
        base_years=base_years,
        init_from=init_from,
    )
    if mode == "both" and distributed.is_rank0():
        _copy_for_mode(out_dir, Path(model_dir) / "autoregressive", "autoregressive")
    return out_dir


def _copy_for_mode(src: Path, dst: Path, mode: str) -> None:
    """Copy a denoiser checkpoint (weights + config, not the optimiser state) to ``dst`` as ``mode``."""
    import shutil

    dst.mkdir(parents=True, exist_ok=True)
    cfg = ckpt.load_config(src)
    shutil.copyfile(src / ckpt.WEIGHTS, dst / ckpt.WEIGHTS)
    ckpt.save_config(dst, {**cfg, "mode": mode})


def _cached_latents(vae_dir: Path, data, tas, encode) -> np.ndarray:
    """Encoded training members, cached beside the VAE (both sequence modes reuse them).

    The key covers the data file (path, size, mtime), the members, the period and
    the VAE weights, so any change re-encodes.
    """
    import hashlib

    parts = [str(data)]
    for path in [Path(p) for p in str(data).split(",")] + [vae_dir / ckpt.WEIGHTS]:
        if path.exists():
            st = path.stat()
            parts += [str(st.st_size), str(st.st_mtime_ns)]
    parts += [str(tas["member"].values.tolist()), str(tas["time"].values[0]), str(tas.sizes["time"])]
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    cache = vae_dir / f".latents-{key}.npy"
    latents = None
    distributed.init()  # under torchrun: join the group now, so only rank 0 encodes
    if distributed.is_rank0() and not cache.exists():  # under torchrun rank 0 encodes, the others wait
        latents = encode()
        for old in vae_dir.glob(".latents-*.npy"):
            old.unlink()
        tmp = vae_dir / f".latents-{key}.partial.npy"
        np.save(tmp, latents)
        tmp.replace(cache)
    distributed.barrier()
    return np.load(cache) if latents is None else latents
