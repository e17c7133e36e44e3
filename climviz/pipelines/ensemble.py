"""EnsembleGenerator: new ensemble members from a conditioning run (arXiv 2407.02070).

``generate(cond (time, lat, lon) in K) -> (member, time, lat, lon) in K``:
encode the conditioning run with the VAE, sample residual latents
``z_y`` with the diffusion model, decode ``base(z_c) + z_y`` (the base: ``z_c``
itself or its same-month mean, :mod:`climviz.diffusion.residual_base`) and undo
the monthly normalisation.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from climviz import __version__
from climviz.data.grid import decimal_years
from climviz.data.normalize import MonthlyNormalizer
from climviz.data.regrid import regrid
from climviz.devices import resolve_device
from climviz.diffusion.residual_base import residual_base
from climviz.diffusion.samplers import DEFAULT_SAMPLER, make_sampler, randn
from climviz.diffusion.schedule import CosineSchedule
from climviz.nn import checkpoint as ckpt
from climviz.nn.denoisers import denoiser_class, denoiser_config, uses_calendar_year
from climviz.nn.vae import VAE, VAE_BATCH, VAEConfig
from climviz.pipelines.generator_layout import check_generator_layout
from climviz.pipelines.limits import check_memory
from climviz.requests import GenerationRequest
from climviz.vocabulary import MEMBER_ATTRS, MODES

Progress = Callable[[int, int], None]


def member_seed(seed: int, member: int) -> int:
    """64-bit seed of member ``member`` of the ensemble drawn with ``seed``.

    A hash of the pair (NumPy ``SeedSequence``), so neighbouring seeds and
    members give unrelated streams. Negative seeds are taken modulo 2**64.
    """
    if member < 0:
        raise ValueError(f"member index must be >= 0, got {member}")
    return int(np.random.SeedSequence([int(seed) % 2**64, int(member)]).generate_state(1, np.uint64)[0])


def member_generators(seed: int, members) -> list[torch.Generator]:
    """One CPU ``torch.Generator`` per member index in ``members``, seeded from ``(seed, index)``.

    Member ``k``'s noise is drawn from its own generator, so it does not depend
    on which other members are generated in the same batch (or on another worker).
    """
    return [torch.Generator(device="cpu").manual_seed(member_seed(seed, k)) for k in members]


class LatentDiffusion:
    """A trained denoiser with its schedule and latent statistics (tensors only)."""

    def __init__(
        self,
        net: torch.nn.Module,
        schedule: CosineSchedule,
        stats: dict,
        mode: str,
        name: str = "",
        base: dict | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.net, self.schedule, self.mode, self.name = net.eval(), schedule, mode, name
        self.base_config = base  # what the residual is taken from (None: the conditioning run)
        dev = next(net.parameters()).device
        self.z_mean = torch.as_tensor(np.asarray(stats["z_mean"], np.float32), device=dev)
        self.z_std = torch.as_tensor(np.asarray(stats["z_std"], np.float32), device=dev)[:, None, None]
        self.res_std = torch.as_tensor(np.asarray(stats["res_std"], np.float32), device=dev)[:, None, None]

    @classmethod
    def from_checkpoint(cls, directory, device="cpu") -> LatentDiffusion:
        cfg = ckpt.load_config(directory)
        if cfg.get("kind") != "ldm":
            raise ckpt.CheckpointError(
                f"{directory}: not a latent diffusion checkpoint (kind={cfg.get('kind')!r})"
            )
        den = denoiser_config(cfg["denoiser"])
        net = ckpt.load_model(directory, denoiser_class(den), den, device)
        sched = CosineSchedule(int(cfg["schedule"]["num_train_steps"]))
        return cls(
            net.to(device),
            sched,
            cfg["latent_stats"],
            cfg["mode"],
            name=Path(directory).name,
            base=cfg.get("residual_base"),
        )

    @property
    def window(self) -> int:
        return self.net.cfg.window

    def base(self, z_c: torch.Tensor) -> torch.Tensor:
        """What a member ``z = base(z_c) + residual`` adds its residual to, for ``z_c [T, C, h, w]``."""
        return residual_base(z_c, self.base_config)

    @torch.no_grad()
    def sample_residual(
        self,
        z_c,
        months,
        years,
        n,
        *,
        steps,
        sampler=DEFAULT_SAMPLER,
        generator=None,
        progress=None,
        on_step=None,
    ):
        """Residual latents ``[n, T, C, h, w]`` (raw scale) given ``z_c [T, C, h, w]``.

        ``months [T]`` in 0..11, ``years [T]`` decimal years. ``generator``: one ``torch.Generator``
        for the whole batch, or a list of ``n`` (one per member, see :func:`member_generators`).
        ``progress(done, total)`` counts network evaluations; ``on_step(i, n_steps, x0)`` sees each
        step's prediction.
        """
        dev = z_c.device
        cond = ((z_c - self.z_mean) / self.z_std)[None].expand(n, *z_c.shape)
        month = torch.as_tensor(months, device=dev).long()[None].expand(n, -1)
        year = torch.as_tensor(np.asarray(years, np.float32), device=dev)[None].expand(n, -1)
        if self.mode == "transformer":
            x = self._sample_windows(cond, month, year, steps, sampler, generator, progress, on_step)
        else:
            x = self._sample_autoregressive(cond, month, year, steps, sampler, generator, progress, on_step)
        return x * self.res_std

    @property
    def years(self) -> tuple[float, float]:
        """Decimal years the network can be asked about: its training span if it reads the
        calendar year, else any (it conditions only on what the conditioning run shows)."""
        if uses_calendar_year(self.net.cfg):
            return tuple(self.net.cfg.years)
        return (-np.inf, np.inf)

    def _window_starts(self, t_len: int) -> list[int]:
        """Window starts covering ``t_len`` months; neighbours overlap by a quarter window."""
        w = self.window
        if t_len <= w:
            return [0]
        stride = w - w // 4
        starts = list(range(0, t_len - w + 1, stride))
        if starts[-1] != t_len - w:
            starts.append(t_len - w)
        return starts

    def _sample_windows(self, cond, month, year, steps, sampler_name, gen, progress, on_step):
        """Joint sampling of the whole span; overlapping windows averaged at every step
        (MultiDiffusion, Bar-Tal et al. 2023, Eq. 3), so no seam forms at window borders."""
        n, t_len = cond.shape[:2]
        w = min(self.window, t_len)
        starts = self._window_starts(t_len)
        ramp = torch.minimum(torch.arange(1, w + 1), torch.arange(w, 0, -1)).float().to(cond.device)
        weight = torch.zeros(t_len, device=cond.device)
        for s in starts:
            weight[s : s + w] += ramp
        sampler = make_sampler(sampler_name, self.schedule, steps)
        total, done = len(sampler.timesteps) * len(starts), 0
        x = randn(cond.shape, gen, cond.device, cond.dtype)
        for i, t in enumerate(sampler.timesteps):
            tt = torch.full((n,), int(t), device=cond.device, dtype=torch.long)
            v = torch.zeros_like(x)
            for s in starts:
                sl = slice(s, s + w)
                v[:, sl] += (
                    self.net(x[:, sl], tt, cond[:, sl], month[:, sl], year[:, sl]) * ramp[:, None, None, None]
                )
                done += 1
                if progress:
                    progress(done, total)
            v = v / weight[:, None, None, None]
            x, x0 = sampler.step(v, i, x, generator=gen)
            if on_step:
                on_step(i + 1, len(sampler.timesteps), x0)
        return x

    def _sample_autoregressive(self, cond, month, year, steps, sampler_name, gen, progress, on_step):
        """First window without context, then chunks of ``W/2`` new months, each
        conditioned on the previous ``W/2`` generated residual months."""
        n, t_len = cond.shape[:2]
        w = self.window
        p = w // 2
        first = min(w, t_len)
        chunks = [(0, first, 0)]
        pos = first
        while pos < t_len:
            k = min(w - p, t_len - pos)
            chunks.append((pos - p, pos + k, p))  # (window start, window end, context length)
            pos += k
        sampler = make_sampler(sampler_name, self.schedule, steps)
        n_steps = len(sampler.timesteps)
        total, done = n_steps * len(chunks), 0
        out = torch.zeros_like(cond)
        for a, b, ctx_len in chunks:
            sl = slice(a, b)
            ctx = torch.zeros(n, b - a, dtype=torch.bool, device=cond.device)
            ctx[:, :ctx_len] = True
            known = out[:, a : a + ctx_len]
            x = randn((n, b - a - ctx_len) + tuple(cond.shape[2:]), gen, cond.device, cond.dtype)
            for i, t in enumerate(sampler.timesteps):
                tt = torch.full((n,), int(t), device=cond.device, dtype=torch.long)
                full = torch.cat([known, x], dim=1)
                v = self.net(full, tt, cond[:, sl], month[:, sl], year[:, sl], ctx)[:, ctx_len:]
                x, x0 = sampler.step(v, i, x, generator=gen)
                done += 1
                if progress:
                    progress(done, total)
                if on_step and a == 0:
                    on_step(i + 1, n_steps, x0)
            out[:, a + ctx_len : b] = x
        return out


def _checked_request(request) -> GenerationRequest:
    if not isinstance(request, GenerationRequest):
        raise TypeError(
            f"expected a climviz.requests.GenerationRequest, got {type(request).__name__} "
            "(build one: GenerationRequest(n_members=..., steps=..., mode=..., seed=..., sampler=...))"
        )
    return request


class EnsembleGenerator:
    """VAE + residual latent diffusion models, with coordinates at the edges.

    Build it from parts (tests inject tiny models) or with :meth:`from_checkpoint`.
    """

    def __init__(
        self,
        vae: VAE,
        normalizer: MonthlyNormalizer,
        diffusion: dict[str, LatentDiffusion],
        lat: np.ndarray,
        lon: np.ndarray,
        *,
        source: str = "",
        device=None,
    ):
        self.device = resolve_device(device)
        self.vae = vae.to(self.device).eval()
        self.normalizer = normalizer
        self.diffusion = diffusion
        self.lat, self.lon = np.asarray(lat), np.asarray(lon)
        self.source = source

    @classmethod
    def from_checkpoint(cls, directory, device=None) -> EnsembleGenerator:
        """Load ``directory/vae`` and every ``directory/<mode>`` present."""
        root = Path(directory)
        dev = resolve_device(device)
        cfg = ckpt.load_config(root / "vae")
        if cfg.get("kind") != "vae":
            raise ckpt.CheckpointError(f"{root / 'vae'}: not a VAE checkpoint")
        modes = [m for m in MODES if (root / m).is_dir()]
        if not modes:
            raise ckpt.CheckpointError(f"{root}: no diffusion model ({' or '.join(MODES)}) found")
        check_generator_layout(root, cfg, {m: ckpt.load_config(root / m) for m in modes})  # before any build
        vae = ckpt.load_model(root / "vae", VAE, VAEConfig.from_dict(cfg["vae"]), dev)
        norm = MonthlyNormalizer.from_dict(cfg["normalization"])
        diffusion = {m: LatentDiffusion.from_checkpoint(root / m, dev) for m in modes}
        return cls(vae, norm, diffusion, cfg["grid"]["lat"], cfg["grid"]["lon"], source=str(root), device=dev)

    @property
    def modes(self) -> list[str]:
        return list(self.diffusion)

    # ------------------------------------------------------------ tensors
    @torch.no_grad()
    def encode(self, anomalies: np.ndarray, batch: int = VAE_BATCH) -> torch.Tensor:
        """``[T, H, W]`` normalised -> latents ``[T, C, h, w]`` (posterior means)."""
        x = torch.from_numpy(np.ascontiguousarray(anomalies, np.float32))[:, None].to(self.device)
        return torch.cat([self.vae.encode(x[i : i + batch])[0] for i in range(0, len(x), batch)])

    @torch.no_grad()
    def decode(self, z: torch.Tensor, batch: int = VAE_BATCH) -> np.ndarray:
        """Latents ``[N, C, h, w]`` -> normalised fields ``[N, H, W]``."""
        out = [self.vae.decode(z[i : i + batch])[:, 0].cpu().numpy() for i in range(0, len(z), batch)]
        return np.concatenate(out)

    # ------------------------------------------------------------ xarray
    def _check_cond(self, cond: xr.DataArray) -> xr.DataArray:
        if not isinstance(cond, xr.DataArray):
            raise TypeError("the conditioning run must be an xarray.DataArray (time, lat, lon)")
        if "member" in cond.dims:
            if cond.sizes["member"] != 1:
                raise ValueError("the conditioning run must be one run; select a member first")
            cond = cond.isel(member=0, drop=True)
        if set(cond.dims) != {"time", "lat", "lon"}:
            raise ValueError(f"the conditioning run needs dims (time, lat, lon), got {cond.dims}")
        cond = regrid(cond.transpose("time", "lat", "lon"), self.lat, self.lon, where="the conditioning run")
        if cond.attrs.get("units", "K") != "K":
            raise ValueError(f"the conditioning run must be in K, got {cond.attrs.get('units')!r}")
        if not np.isfinite(cond.values).all():
            raise ValueError("the conditioning run contains NaN or infinite values")
        return cond

    def trained_years(self, mode: str | None = None) -> tuple[float, float]:
        """Decimal-year span the diffusion model(s) were trained on (all modes when ``mode`` is None)."""
        spans = [d.years for m, d in self.diffusion.items() if mode in (None, m)]
        if not spans:
            raise ValueError(f"mode {mode!r} is not available; this generator has {self.modes}")
        return max(s[0] for s in spans), min(s[1] for s in spans)

    def _preview_hook(self, preview, frame: int, base: torch.Tensor, months: np.ndarray, mode: str):
        """Sampler callback decoding member 0's predicted residual at ``frame``, added to the
        residual ``base [T, C, h, w]``, to a field in K."""
        f = min(max(int(frame), 0), len(months) - 1)
        res_std = self.diffusion[mode].res_std

        def on_step(i, n_steps, x0):
            z = base[f] + x0[0, f] * res_std
            preview(i, n_steps, self.normalizer.denormalize(self.decode(z[None]), months[f : f + 1])[0])

        return on_step

    def sample_latents(
        self,
        cond: xr.DataArray,
        request: GenerationRequest,
        *,
        progress: Progress | None = None,
        preview=None,
        preview_frame: int = 0,
        vae_batch: int = VAE_BATCH,
    ):
        """Latents ``z = base(z_c) + z_y`` ``[n_members, T, C, h, w]`` of members ``member_offset ..``.

        Returns ``(cond, months, z)``: the checked conditioning run, its calendar
        months ``[T]`` (1..12) and the latents, to be turned into fields by
        :meth:`decode_fields` (all at once, or a time slice at a time). Arguments
        as in :meth:`generate`; ``vae_batch`` frames go through the encoder at once.
        """
        request = _checked_request(request)
        n_members, mode = request.n_members, request.mode
        if mode not in self.diffusion:
            raise ValueError(f"mode {mode!r} is not available; this generator has {self.modes}")
        cond = self._check_cond(cond)
        months = np.asarray(cond["time"].dt.month.values) if cond.sizes["time"] else np.array([], int)
        if len(months) == 0:
            raise ValueError("the conditioning run has no time steps")
        c, h, w = self.diffusion[mode].net.cfg.latent_shape  # latents (6 working copies) + decoded fields
        check_memory(
            4 * n_members * len(months) * (6 * c * h * w + 2 * len(self.lat) * len(self.lon)),
            f"{n_members} members x {len(months)} months",
            "generate fewer members at a time",
        )
        years = decimal_years(cond["time"].values)
        y0, y1 = self.trained_years(mode)
        if years[0] < y0 or years[-1] > y1:
            raise ValueError(
                f"the conditioning run covers {years[0]:.1f}-{years[-1]:.1f}; this model was trained on "
                f"{y0:.0f}-{y1:.0f} and cannot generate outside it"
            )
        z_c = self.encode_fields(cond.values, months, vae_batch)
        base = self.diffusion[mode].base(z_c)
        gens = member_generators(
            request.seed, range(request.member_offset, request.member_offset + n_members)
        )
        on_step = None if preview is None else self._preview_hook(preview, preview_frame, base, months, mode)
        z_y = self.diffusion[mode].sample_residual(
            z_c,
            months - 1,
            years,
            n_members,
            steps=request.steps,
            sampler=request.sampler,
            generator=gens,
            progress=progress,
            on_step=on_step,
        )
        return cond, months, base[None] + z_y

    def encode_fields(self, fields: np.ndarray, months: np.ndarray, batch: int = VAE_BATCH) -> torch.Tensor:
        """Fields ``[T, H, W]`` in K with calendar ``months [T]`` (1..12) -> latents ``[T, C, h, w]``
        (posterior means), as a conditioning run is encoded; the inverse of :meth:`decode_fields`."""
        return self.encode(self.normalizer.normalize(np.asarray(fields).astype(np.float32), months), batch)

    def decode_fields(self, z: torch.Tensor, months: np.ndarray, batch: int = VAE_BATCH) -> np.ndarray:
        """Latents ``[M, T, C, h, w]`` with calendar ``months [T]`` (1..12) -> fields ``[M, T, H, W]`` in K.

        ``batch`` frames go through the decoder at once (its activations bound the memory).
        """
        m, t = z.shape[:2]
        fields = self.decode(z.flatten(0, 1), batch).reshape(m, t, len(self.lat), len(self.lon))
        return self.normalizer.denormalize(fields, months)

    def provenance(self, cond: xr.DataArray, request: GenerationRequest) -> dict:
        """Attributes of a generated ensemble (variable ``tas``): CF names, units and provenance."""
        mode = request.mode
        return {
            "standard_name": "air_temperature",
            "long_name": "near-surface air temperature (generated)",
            "units": "K",
            "generator": f"climviz {__version__} EnsembleGenerator",
            "model": self.source or "in-memory model",
            "diffusion_model": self.diffusion[mode].name,
            "mode": mode,
            "sampler": request.sampler,
            "steps": int(request.steps),
            "seed": int(request.seed),
            "conditioning_source": str(
                cond.attrs.get("source_description", cond.attrs.get("source", "user run"))
            ),
            **({"regridding": cond.attrs["regridding"]} if "regridding" in cond.attrs else {}),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "comment": "Generated by a latent diffusion emulator; not observations.",
        }

    def generate(
        self,
        cond: xr.DataArray,
        request: GenerationRequest,
        *,
        progress: Progress | None = None,
        preview=None,
        preview_frame: int = 0,
    ) -> xr.DataArray:
        """Generate ``request.n_members`` new members that share ``cond``'s forced response.

        Parameters
        ----------
        cond : xr.DataArray (time, lat, lon), K. A run on another global grid is regridded
            to the model's (:func:`climviz.data.regrid.regrid`; ``attrs["regridding"]`` of the
            result says how); a regional or irregular grid raises ``DataError``.
        request : :class:`climviz.requests.GenerationRequest`: ``n_members``, ``steps`` (1 ..
            training steps), ``mode`` (one of :attr:`modes`), ``seed`` (the same seed gives the
            same ensemble), ``sampler`` (``"dpm++2m"`` by default, ``"ddim"`` deterministic,
            ``"ddpm"`` ancestral; README, Samplers, for the spread each keeps) and
            ``member_offset``: generate members ``member_offset .. member_offset + n_members - 1``
            of the ensemble drawn with ``seed``. Member ``k`` depends only on
            ``(seed, k)`` (its noise comes from its own generator, see
            :func:`member_generators`), so a worker producing members ``[a, b)``
            gets those of the full run (equal up to the last bits of batched
            float arithmetic; bit-identical for the same request on one machine).
        progress : ``progress(done, total)`` after each network evaluation.
        preview : ``preview(i, n_steps, field)`` after each sampler step, with
            ``field [lat, lon]`` (K, numpy) the current prediction of the first
            generated member at time index ``preview_frame`` (for teaching views
            of the denoising).

        Returns
        -------
        xr.DataArray ``tas (member, time, lat, lon)`` in K with provenance attributes;
        the ``member`` coordinate holds the member indices.
        """
        cond, months, z = self.sample_latents(
            cond, request, progress=progress, preview=preview, preview_frame=preview_frame
        )
        return self.members_from_latents(cond, months, z, request)

    def members_from_latents(
        self, cond: xr.DataArray, months: np.ndarray, z: torch.Tensor, request: GenerationRequest
    ) -> xr.DataArray:
        """What :meth:`generate` returns, from what :meth:`sample_latents` returned for ``request``."""
        members = np.arange(request.member_offset, request.member_offset + request.n_members)
        out = xr.DataArray(
            self.decode_fields(z, months),
            dims=("member", "time", "lat", "lon"),
            coords={"member": members, "time": cond["time"], "lat": cond["lat"], "lon": cond["lon"]},
            name="tas",
            attrs=self.provenance(cond, request),
        )
        out["member"].attrs.update(MEMBER_ATTRS)
        return out
