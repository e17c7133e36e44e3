"""Convolutional VAE for monthly temperature anomaly fields (arXiv 2407.02070, Sec. 3.1).

``[B, 1, H, W]`` normalised anomalies <-> ``[B, C_z, H / 2**L, W / 2**L]`` latents,
where ``L = len(channels) - 1`` is the number of down-sampling steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from climviz.nn.checkpoint import config_from_dict
from climviz.nn.sphere import Down, ResBlock, SphereConv2d, Up

# Frames per VAE call when encoding or decoding many. Small batches keep a convolution's
# activations in the CPU's caches: decoding 1200 48x96 frames took 6.4 s in batches of 256
# and 2.6 s in batches of 16 (2 threads).
VAE_BATCH = 16


@dataclass
class VAEConfig:
    in_channels: int = 1  # fields per frame
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])  # stem width, then width per level
    latent_channels: int = 4  # C_z
    blocks_per_level: int = 1  # residual blocks at each coarser level
    decoder_channels: list[int] | None = None  # the decoder's widths, if not those of ``channels``

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> VAEConfig:
        """From a checkpoint's config, every value checked (:class:`~climviz.nn.checkpoint.CheckpointError`)."""
        return config_from_dict(
            cls,
            d,
            limits={
                "in_channels": (1, 64),
                "latent_channels": (1, 256),
                "blocks_per_level": (1, 16),
                "channels": (1, 2048),
                "decoder_channels": (1, 2048),
            },
            optional=("decoder_channels",),
        )

    def check(self) -> None:
        """Relations between fields that the network needs (``ValueError``)."""
        if not 1 <= len(self.channels) <= 8:
            raise ValueError(f"channels has {len(self.channels)} levels; 1 to 8 are possible")
        if self.channels[-1] % 8:
            raise ValueError(
                f"the last width in channels ({self.channels[-1]}) must be a multiple of 8 (GroupNorm)"
            )
        if self.decoder_channels is not None:
            if len(self.decoder_channels) != len(self.channels):
                raise ValueError(
                    f"decoder_channels has {len(self.decoder_channels)} levels, channels {len(self.channels)}: "
                    "the decoder must undo the encoder's down-sampling"
                )
            if self.decoder_channels[-1] % 8:
                raise ValueError(
                    f"the last width in decoder_channels ({self.decoder_channels[-1]}) must be a multiple of 8"
                )

    @property
    def decoder_widths(self) -> list[int]:
        return list(self.decoder_channels or self.channels)

    @property
    def downsampling(self) -> int:
        return 2 ** (len(self.channels) - 1)


class Encoder(nn.Module):
    """Stem at full resolution, then (down-sample, residual blocks) per level.

    No residual block runs at full resolution: on a CPU that is where most of
    the cost would be, and the fields are smooth at the grid scale.
    """

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        ch = cfg.channels
        layers: list[nn.Module] = [SphereConv2d(cfg.in_channels, ch[0])]
        for i in range(1, len(ch)):
            layers.append(Down(ch[i - 1]))
            layers += [ResBlock(ch[i - 1] if b == 0 else ch[i], ch[i]) for b in range(cfg.blocks_per_level)]
        layers += [nn.GroupNorm(8, ch[-1]), nn.SiLU(), SphereConv2d(ch[-1], 2 * cfg.latent_channels)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """Mirror of :class:`Encoder` (widths ``cfg.decoder_widths``): residual blocks per level, then up-sample."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        ch = cfg.decoder_widths
        layers: list[nn.Module] = [SphereConv2d(cfg.latent_channels, ch[-1])]
        for i in range(len(ch) - 1, 0, -1):
            layers += [ResBlock(ch[i], ch[i]) for _ in range(cfg.blocks_per_level)]
            layers.append(Up(ch[i], ch[i - 1]))
        layers += [nn.GroupNorm(min(8, ch[0]), ch[0]), nn.SiLU(), SphereConv2d(ch[0], cfg.in_channels)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class VAE(nn.Module):
    """Gaussian-posterior VAE; ``encode`` gives ``(mu, logvar)``, ``decode`` the field."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, C, H, W]`` -> ``mu, logvar`` each ``[B, C_z, H/f, W/f]``."""
        f = self.cfg.downsampling
        if x.shape[-2] % f or x.shape[-1] % f:
            raise ValueError(
                f"grid {tuple(x.shape[-2:])} is not divisible by the VAE's down-sampling factor {f}"
            )
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, C_z, h, w]`` -> ``[B, C, h*f, w*f]``."""
        return self.decoder(z)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None, eps: torch.Tensor | None = None
    ):
        """Reconstruct ``x`` from a posterior sample; returns ``(x_hat, mu, logvar)``.

        ``eps`` (shaped like ``mu``) is the standard normal noise of the sample;
        by default it is drawn with ``generator``.
        """
        mu, logvar = self.encode(x)
        if eps is None:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mu, logvar


def vae_loss(x, x_hat, mu, logvar, *, weights: torch.Tensor | None = None, beta: float = 1e-4):
    """Area-weighted MSE + ``beta`` * KL(q(z|x) || N(0, I)) per latent element.

    ``weights`` ``[H, 1]`` (cos latitude, mean 1) makes the reconstruction term an
    area mean, so polar rows do not dominate.
    """
    err = (x_hat - x) ** 2
    rec = (err * weights).mean() if weights is not None else err.mean()
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean()
    return rec + beta * kl, rec.detach(), kl.detach()
