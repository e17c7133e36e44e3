"""Train the VAE on normalised monthly anomaly frames."""

from __future__ import annotations

import numpy as np
import torch

from climviz.nn.vae import VAE, VAE_BATCH, VAEConfig, vae_loss
from climviz.train.common import LoopSettings, Progress, default_device, run_loop
from climviz.train.distributed import shard


def train_vae(
    frames,
    lat_weights: np.ndarray,
    cfg: VAEConfig,
    out_dir,
    settings: LoopSettings,
    *,
    beta: float = 1e-4,
    extra_config: dict | None = None,
    device: torch.device | None = None,
    resume: bool = True,
    progress: Progress | None = None,
) -> VAE:
    """Fit a :class:`VAE` to ``frames [N, H, W]`` (normalised anomalies).

    ``frames`` is an array, or anything with ``shape`` that returns the rows
    of a sorted index array as one, such as a
    :class:`~climviz.train.streaming.FrameSource` that reads each batch from
    disk. ``lat_weights [H]`` (cos latitude, mean 1) weight the reconstruction
    error by area. Writes checkpoints to ``out_dir`` as it goes.
    """
    device = device or default_device()
    model = VAE(cfg).to(device)
    w = torch.as_tensor(np.asarray(lat_weights, np.float32), device=device)[:, None]
    n, h, wd = frames.shape
    f = cfg.downsampling
    z_shape = (cfg.latent_channels, h // f, wd // f)

    def loss_fn(step: int, gen: torch.Generator, net: torch.nn.Module):
        # the global batch and its noise, then this rank's rows of both
        idx = np.sort(torch.randint(0, n, (settings.batch_size,), generator=gen).numpy())
        eps = torch.randn((settings.batch_size, *z_shape), generator=gen)
        idx, eps = shard(idx), shard(eps)
        x = torch.from_numpy(np.ascontiguousarray(frames[idx]))[:, None].to(device)
        x_hat, mu, logvar = net(x, eps=eps.to(device))
        loss, rec, kl = vae_loss(x, x_hat, mu, logvar, weights=w, beta=beta)
        return loss, {"rec": float(rec), "kl": float(kl)}

    config = {"kind": "vae", "vae": cfg.to_dict(), "beta": beta, **(extra_config or {})}
    return run_loop(model, loss_fn, out_dir, config, settings, resume=resume, progress=progress)


def train_decoder(
    frames,
    lat_weights: np.ndarray,
    encoder_from: VAE,
    cfg: VAEConfig,
    out_dir,
    settings: LoopSettings,
    *,
    extra_config: dict | None = None,
    device: torch.device | None = None,
    resume: bool = True,
    progress: Progress | None = None,
) -> VAE:
    """Fit a new decoder (widths ``cfg.decoder_widths``) to ``encoder_from``'s frozen encoder.

    The encoder's weights are copied and never change, so the latents, and every
    latent diffusion model trained on them, stay valid: only the map back to the
    field is re-learned, from the posterior means ``mu`` of ``frames [N, H, W]``
    (the latents the diffusion model is trained on and generates), by area-weighted
    MSE. Used to make decoding, most of the cost of a generated ensemble, cheaper.
    """
    if cfg.channels != encoder_from.cfg.channels or cfg.latent_channels != encoder_from.cfg.latent_channels:
        raise ValueError("the new VAE must keep the encoder's channels and latent channels")
    device = device or default_device()
    model = VAE(cfg).to(device)
    model.encoder.load_state_dict(encoder_from.encoder.state_dict())
    model.encoder.requires_grad_(False)
    w = torch.as_tensor(np.asarray(lat_weights, np.float32), device=device)[:, None]
    n = frames.shape[0]

    def loss_fn(step: int, gen: torch.Generator, net: torch.nn.Module):
        idx = shard(np.sort(torch.randint(0, n, (settings.batch_size,), generator=gen).numpy()))
        x = torch.from_numpy(np.ascontiguousarray(frames[idx]))[:, None].to(device)
        with torch.no_grad():
            mu = model.encode(x)[0]
        rec = ((model.decoder(mu) - x) ** 2 * w).mean()
        return rec, {"rec": float(rec.detach())}

    config = {"kind": "vae", "vae": cfg.to_dict(), "decoder_only": True, **(extra_config or {})}
    return run_loop(model, loss_fn, out_dir, config, settings, resume=resume, progress=progress)


@torch.no_grad()
def encode_frames(model: VAE, frames: np.ndarray, *, batch_size: int = VAE_BATCH, device=None) -> np.ndarray:
    """Posterior means ``mu`` of ``frames [N, H, W]`` -> ``[N, C, h, w]`` float32."""
    device = device or next(model.parameters()).device
    out = []
    for i in range(0, frames.shape[0], batch_size):
        x = torch.from_numpy(np.ascontiguousarray(frames[i : i + batch_size]))[:, None].to(device)
        out.append(model.encode(x)[0].cpu().numpy())
    return np.concatenate(out, axis=0)
