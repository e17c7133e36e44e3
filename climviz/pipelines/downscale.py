"""Downscaler: coarse wind -> fine wind samples (TAUDiff, arXiv 2412.13627), xarray at the edges.

``Downscaler.downscale(coarse (time, lat, lon) u, v)`` runs the SimVP-TAU mean
model over windows of ``T`` frames starting at every frame, blended where they overlap, then samples the fine-scale
residual with the CAU-UNet diffusion model (frame by frame) and adds it to the
mean (:class:`~climviz.pipelines.frame_diffusion.FrameDiffusion`: frames drawn
independently, or, for a residual model trained with ``prev_residual``, in time
order, each given the residual sampled for the frame before).
:class:`BaselineDownscaler` has the same interface for the end-to-end diffusion
baseline (no mean model). :func:`load_downscaler` picks the right one for a
checkpoint directory:

- ``models/taudiff/{mean,residual}``: TAUDiff;
- ``models/taudiff-baseline``: the baseline (``config.json`` kind ``taudiff-baseline``).
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from climviz import __version__
from climviz.data.grid import grid_mismatch
from climviz.devices import resolve_device
from climviz.diffusion.samplers import make_sampler
from climviz.nn import checkpoint as ckpt
from climviz.nn.simvp import SimVP, SimVPConfig
from climviz.nn.wind_fields import VARIABLES, denormalize, make_upsample, normalize
from climviz.pipelines.frame_diffusion import FrameDiffusion, sampling_note
from climviz.pipelines.limits import check_memory
from climviz.requests import DownscaleRequest

Progress = Callable[[int, int], None]
_LAT_TOL = 1e-3
VAR_ATTRS = {
    "u": {"standard_name": "eastward_wind", "units": "m s-1"},
    "v": {"standard_name": "northward_wind", "units": "m s-1"},
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sample_seed(seed: int, k: int) -> int:
    """Seed of sample ``k``: sample ``k`` is the same whatever ``n_samples`` is."""
    return int(np.random.SeedSequence([int(seed), int(k)]).generate_state(1, dtype=np.uint64)[0] >> 1)


def window_starts(n: int, t: int, stride: int | None = None) -> list[int]:
    """Starts of windows of ``t`` frames, ``stride`` apart (default ``t``: consecutive),
    covering ``n >= t`` frames; the last one is moved back to end at ``n``."""
    stride = t if stride is None else stride
    starts = list(range(0, n - t + 1, stride))
    if starts[-1] + t < n:
        starts.append(n - t)
    return starts


def window_weights(t: int) -> torch.Tensor:
    """Overlap-add weights of the ``t`` frames of a window: ``sin^2(pi (i + 1/2) / t)``, largest at
    the centre, small at the edges. Windows ``t/2`` apart sum to one (sin^2 + cos^2)."""
    i = torch.arange(t, dtype=torch.float64)
    return torch.sin(torch.pi * (i + 0.5) / t) ** 2


MEAN_STRIDE = 1  # predict_mean's windows start at every frame


@torch.no_grad()
def predict_mean(
    model: SimVP, coarse: torch.Tensor, progress: Callable[[], None] | None = None, stride: int = MEAN_STRIDE
) -> torch.Tensor:
    """Mean model over a whole sequence: ``coarse [N, C, h, w]`` (normalised) -> ``[N, C, H, W]``.

    Windows of ``T`` frames, ``stride`` apart (default: one starting at every frame), blended
    frame by frame with the weights of :func:`window_weights`, divided by the sum of the weights
    that reach the frame. SimVP predicts each position of a window from the whole window, so
    windows predicted back to back jump at every window edge, and windows ``T/2`` apart still
    repeat a pattern every ``T/2`` frames; both show as spurious variance at high frequencies in
    time. A window at every frame removes that, for ``T`` network calls per frame instead of 1
    (the mean model is a small part of TAUDiff's cost). A sequence shorter than ``T`` is padded by
    repeating its last frame.
    """
    n, t = coarse.shape[0], model.cfg.frames
    if n < t:
        pad = coarse[-1:].expand(t - n, *coarse.shape[1:])
        return predict_mean(model, torch.cat([coarse, pad]), progress, stride)[:n]
    w = window_weights(t).to(coarse.device, coarse.dtype).view(t, *([1] * (coarse.dim() - 1)))
    out = total = None
    for s in window_starts(n, t, stride):
        y = model(coarse[s : s + t][None])[0]
        if out is None:
            out = y.new_zeros(n, *y.shape[1:])
            total = y.new_zeros(n, *([1] * (y.dim() - 1)))
        out[s : s + t] += w * y
        total[s : s + t] += w
        if progress:
            progress()
    return out / total


def check_grid(grid, where: str, coarse_shape=None, fine_shape=None) -> None:
    """A checkpoint's ``grid`` section: four increasing 1-D lists of degrees, of the lengths the
    networks were built for (``coarse_shape``/``fine_shape`` ``(nlat, nlon)`` when known).
    Raises :class:`~climviz.nn.checkpoint.CheckpointError`."""
    want = {"coarse_lat": None, "coarse_lon": None, "fine_lat": None, "fine_lon": None}
    if coarse_shape is not None:
        want.update(coarse_lat=coarse_shape[0], coarse_lon=coarse_shape[1])
    if fine_shape is not None:
        want.update(fine_lat=fine_shape[0], fine_lon=fine_shape[1])
    for key, n in want.items():
        try:
            a = np.asarray(grid[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise ckpt.CheckpointError(f"{where}: grid {key} must be a list of numbers") from None
        if a.ndim != 1 or a.size < 2 or not np.isfinite(a).all() or np.any(np.diff(a) <= 0):
            raise ckpt.CheckpointError(
                f"{where}: grid {key} must be an increasing list of at least 2 finite numbers"
            )
        if n is not None and a.size != n:
            raise ckpt.CheckpointError(
                f"{where}: grid {key} has {a.size} values, the network was built for {n}"
            )


def _ticker(total: int, progress):
    """A no-argument callback counting work units and reporting ``progress(done, total)``."""
    done = [0]

    def tick():
        done[0] += 1
        if progress:
            progress(done[0], total)

    return tick


def _sampling_attrs(diffusion: FrameDiffusion, request: DownscaleRequest) -> dict:
    """How the samples were drawn, for a downscaled file's attributes. A frame-independent
    model has no predecessor to warm up, so its ``burn_in`` is recorded as 0 (none was done)."""
    burn_in = int(request.burn_in) if diffusion.sequential else 0
    return {
        "sampler": request.sampler,
        "steps": int(request.steps),
        "seed": int(request.seed),
        "n_samples": int(request.n_samples),
        "noise_correlation": float(request.noise_correlation),
        "burn_in": burn_in,
        "frame_sampling": sampling_note(diffusion, burn_in),
    }


class _DownscalerBase:
    """Validation, sampling loop and xarray assembly shared by both downscalers."""

    kind = ""

    def __init__(self, norm: dict, grid: dict, *, source: str = "", device=None):
        self.device = resolve_device(device)
        self.norm, self.grid, self.source = norm, grid, source
        self.variables = tuple(norm.get("variables", VARIABLES))
        self.coarse_lat = np.asarray(grid["coarse_lat"], float)
        self.coarse_lon = np.asarray(grid["coarse_lon"], float)
        self.lat = np.asarray(grid["fine_lat"], float)
        self.lon = np.asarray(grid["fine_lon"], float)
        self.upsample = make_upsample(grid).to(self.device)

    # ------------------------------------------------------------ validation
    def check_input(self, coarse: xr.Dataset) -> xr.Dataset:
        """Return ``coarse[u, v]`` as ``(time, lat, lon)``, or raise ``ValueError`` saying why not."""
        if not isinstance(coarse, xr.Dataset):
            raise TypeError("the coarse input must be an xarray.Dataset with u and v (time, lat, lon)")
        missing = [v for v in self.variables if v not in coarse.data_vars]
        if missing:
            raise ValueError(f"the coarse input lacks {missing}; it needs {list(self.variables)}")
        ds = coarse[list(self.variables)]
        for name, da in ds.data_vars.items():
            if set(da.dims) != {"time", "lat", "lon"}:
                raise ValueError(f"{name} needs dims (time, lat, lon), got {da.dims}")
        ds = ds.transpose("time", "lat", "lon")
        if ds.sizes["time"] == 0:
            raise ValueError("the coarse input has no time steps")
        if differs := grid_mismatch(ds["lat"], ds["lon"], self.coarse_lat, self.coarse_lon, atol=_LAT_TOL):
            raise ValueError(
                f"the coarse input is on {differs}; this model needs the "
                f"{self.coarse_lat.size}x{self.coarse_lon.size} coarse grid it was trained on "
                "(coarsen a fine field with climviz.data.coarsen.coarsen first)"
            )
        for name, da in ds.data_vars.items():
            if not np.isfinite(da.values).all():
                raise ValueError(f"{name} contains NaN or infinite values")
        return ds

    def _tensor(self, ds: xr.Dataset) -> torch.Tensor:
        x = np.stack([ds[v].values.astype(np.float32) for v in self.variables], axis=1)  # [T, C, h, w]
        return normalize(torch.from_numpy(x).to(self.device), self.norm)

    # ------------------------------------------------------------ output
    def _dataset(self, ds, samples: np.ndarray, mean: np.ndarray, attrs: dict, mean_note: str) -> xr.Dataset:
        n = samples.shape[0]
        coords = {
            "sample": np.arange(n),
            "time": ds["time"].values,
            "lat": ("lat", self.lat, {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"}),
            "lon": ("lon", self.lon, {"standard_name": "longitude", "units": "degrees_east", "axis": "X"}),
        }
        out = xr.Dataset(coords=coords)
        out["time"].attrs.update(ds["time"].attrs)
        out["time"].encoding.update(
            {k: v for k, v in ds["time"].encoding.items() if k in ("units", "calendar")}
        )
        out["sample"].attrs["long_name"] = "downscaled sample"
        for c, v in enumerate(self.variables):
            base = VAR_ATTRS.get(v, {"units": ds[v].attrs.get("units", "")})
            out[v] = (
                ("sample", "time", "lat", "lon"),
                samples[:, :, c],
                {**base, "long_name": f"{v} wind, downscaled sample"},
            )
            out[f"{v}_mean"] = (
                ("time", "lat", "lon"),
                mean[:, c],
                {**base, "long_name": f"{v} wind, {mean_note}"},
            )
        src = ds.attrs
        out.attrs.update(
            {
                "Conventions": "CF-1.8",
                "title": f"climviz downscaled wind ({self.kind})",
                "generator": f"climviz {__version__} {type(self).__name__}",
                "model": self.source or "in-memory model",
                "input_synthetic": str(src.get("synthetic", "unknown")),
                "input_source": str(src.get("source_file", src.get("source", "user data"))),
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "comment": "Generated by a machine-learned downscaler; samples are plausible fine-scale "
                "fields, not observations.",
                **attrs,
            }
        )
        return out

    def _sample_all(self, diffusion: FrameDiffusion, cond, request: DownscaleRequest, tick):
        gens = [
            torch.Generator(device="cpu").manual_seed(sample_seed(request.seed, k))
            for k in range(request.n_samples)
        ]
        common = dict(
            steps=request.steps,
            sampler=request.sampler,
            progress=tick,
            noise_correlation=float(request.noise_correlation),
        )
        if diffusion.sequential:  # frames in time order, samples side by side
            return diffusion.sample_sequence(
                cond, generators=gens, batch=request.batch_frames, burn_in=request.burn_in, **common
            )
        outs = [
            diffusion.sample(cond, generator=gen, batch_frames=request.batch_frames, **common) for gen in gens
        ]
        return torch.stack(outs)  # [S, N, C, H, W]

    def _check_request(self, request: DownscaleRequest, n_frames: int) -> None:
        """Refuse anything but a :class:`DownscaleRequest`, or one whose samples would not fit in memory."""
        if not isinstance(request, DownscaleRequest):
            raise TypeError(
                f"expected a climviz.requests.DownscaleRequest, got {type(request).__name__} "
                "(build one: DownscaleRequest(n_samples=..., steps=..., seed=..., sampler=...))"
            )
        fine = len(self.variables) * self.lat.size * self.lon.size  # samples, their stack and the numpy copy
        check_memory(
            3 * 4 * request.n_samples * n_frames * fine,
            f"{request.n_samples} samples x {n_frames} frames",
            "ask for fewer samples or a shorter period",
        )

    @staticmethod
    def _evaluations(diffusion: FrameDiffusion, request: DownscaleRequest, n_frames: int) -> int:
        """Network evaluations of ``diffusion`` to sample ``n_frames`` frames for ``request``."""
        n_steps = len(make_sampler(request.sampler, diffusion.schedule, request.steps).timesteps)
        return diffusion.evaluations(
            n_frames, request.n_samples, n_steps, request.batch_frames, request.burn_in
        )


class Downscaler(_DownscalerBase):
    """TAUDiff: SimVP-TAU mean model + CAU-UNet residual diffusion.

    Build it from parts (tests inject tiny models) or with :meth:`from_checkpoint`.

    Parameters
    ----------
    mean_model : SimVP (normalised coarse windows -> normalised fine mean).
    residual : FrameDiffusion over the normalised residual (``scale`` = residual std).
    norm : ``{"variables", "mean", "std"}`` per variable.
    grid : ``{"coarse_lat", "coarse_lon", "fine_lat", "fine_lon"}`` (degrees).
    """

    kind = "taudiff"

    def __init__(
        self,
        mean_model: SimVP,
        residual: FrameDiffusion,
        norm: dict,
        grid: dict,
        *,
        source: str = "",
        device=None,
    ):
        super().__init__(norm, grid, source=source, device=device)
        self.mean_model = mean_model.to(self.device).eval()
        residual.net.to(self.device)
        self.residual = residual

    @classmethod
    def from_checkpoint(cls, directory, device=None) -> Downscaler:
        """Load ``directory/mean`` (kind ``taudiff-mean``) and ``directory/residual``."""
        root, dev = Path(directory), resolve_device(device)
        cfg = ckpt.load_config(root / "mean")
        if cfg.get("kind") != "taudiff-mean":
            raise ckpt.CheckpointError(f"{root / 'mean'}: not a TAUDiff mean-model checkpoint")
        simvp = SimVPConfig.from_dict(cfg["simvp"])
        check_grid(cfg["grid"], str(root / "mean" / ckpt.CONFIG), simvp.coarse_shape, simvp.fine_shape)
        mean_model = ckpt.load_model(root / "mean", SimVP, simvp, dev)
        residual, rcfg = FrameDiffusion.from_checkpoint(root / "residual", "taudiff-residual", dev)
        if rcfg["normalization"] != cfg["normalization"] or rcfg["grid"] != cfg["grid"]:
            raise ckpt.CheckpointError(f"{root}: mean and residual models were trained on different data")
        return cls(mean_model, residual, cfg["normalization"], cfg["grid"], source=str(root), device=dev)

    def downscale(
        self, coarse: xr.Dataset, request: DownscaleRequest, *, progress: Progress | None = None
    ) -> xr.Dataset:
        """Downscale coarse ``u, v (time, lat, lon)`` to fine samples.

        Parameters
        ----------
        coarse : xr.Dataset with ``u``, ``v`` (m s-1) on the training coarse grid.
        request : :class:`climviz.requests.DownscaleRequest`: ``n_samples`` (residual samples
            per time step), ``steps`` (1 .. the schedule's training steps), ``seed`` (the same
            seed gives the same samples; sample ``k`` does not depend on ``n_samples``),
            ``sampler`` (``"ddim"`` deterministic by default, ``"ddpm"`` ancestral,
            ``"dpm++2m"``), ``batch_frames`` (frames per network call) and ``noise_correlation``
            (frame-to-frame correlation of the initial noise) and ``burn_in`` (discarded draws of
            the first frame, for a model that samples frames in time order).
        progress : ``progress(done, total)`` after each network evaluation.

        Returns
        -------
        xr.Dataset: ``u, v (sample, time, lat, lon)`` and ``u_mean, v_mean (time, lat, lon)``
        on the fine grid; attrs ``mean_model_s``, ``diffusion_s`` (wall seconds) and provenance.
        """
        ds = self.check_input(coarse)
        self._check_request(request, ds.sizes["time"])
        x = self._tensor(ds)
        n = x.shape[0]
        t = self.mean_model.cfg.frames
        n_win = len(window_starts(max(n, t), t, MEAN_STRIDE))
        tick = _ticker(n_win + self._evaluations(self.residual, request, n), progress)

        _sync(self.device)
        t0 = time.perf_counter()
        mean = predict_mean(self.mean_model, x, tick)  # [N, C, H, W] normalised
        _sync(self.device)
        t1 = time.perf_counter()
        cond = torch.cat([mean, self.upsample(x)], dim=1)
        res = self._sample_all(self.residual, cond, request, tick)
        mean_phys = denormalize(mean, self.norm)
        fine = (mean_phys[None] + res).cpu().numpy()
        _sync(self.device)
        t2 = time.perf_counter()
        attrs = {
            **_sampling_attrs(self.residual, request),
            "mean_model_s": round(t1 - t0, 4),
            "diffusion_s": round(t2 - t1, 4),
            "device": str(self.device),
            "method": "TAUDiff (SimVP-TAU mean + CAU-UNet residual diffusion)",
        }
        return self._dataset(ds, fine, mean_phys.cpu().numpy(), attrs, "mean model (SimVP-TAU)")


class BaselineDownscaler(_DownscalerBase):
    """End-to-end diffusion on the whole fine field (no mean model), same interface.

    ``u_mean, v_mean`` hold the mean over the samples (``attrs`` say so).
    """

    kind = "baseline"

    def __init__(self, diffusion: FrameDiffusion, norm: dict, grid: dict, *, source: str = "", device=None):
        super().__init__(norm, grid, source=source, device=device)
        diffusion.net.to(self.device)
        self.diffusion = diffusion

    @classmethod
    def from_checkpoint(cls, directory, device=None) -> BaselineDownscaler:
        dev = resolve_device(device)
        check_grid(ckpt.load_config(directory)["grid"], str(Path(directory) / ckpt.CONFIG))
        diffusion, cfg = FrameDiffusion.from_checkpoint(directory, "taudiff-baseline", dev)
        return cls(diffusion, cfg["normalization"], cfg["grid"], source=str(directory), device=dev)

    def downscale(
        self, coarse: xr.Dataset, request: DownscaleRequest, *, progress: Progress | None = None
    ) -> xr.Dataset:
        """As :meth:`Downscaler.downscale`; ``mean_model_s`` is 0."""
        ds = self.check_input(coarse)
        self._check_request(request, ds.sizes["time"])
        x = self._tensor(ds)
        tick = _ticker(self._evaluations(self.diffusion, request, x.shape[0]), progress)

        _sync(self.device)
        t1 = time.perf_counter()
        z = self._sample_all(self.diffusion, self.upsample(x), request, tick)
        mean = torch.as_tensor(np.asarray(self.norm["mean"], np.float32), device=z.device)[:, None, None]
        fine = (z + mean).cpu().numpy()  # scale = std was applied by the sampler
        _sync(self.device)
        t2 = time.perf_counter()
        attrs = {
            **_sampling_attrs(self.diffusion, request),
            "mean_model_s": 0.0,
            "diffusion_s": round(t2 - t1, 4),
            "device": str(self.device),
            "method": "end-to-end diffusion baseline (CAU-UNet on the whole fine field)",
        }
        return self._dataset(ds, fine, fine.mean(axis=0), attrs, "mean over the samples")


def load_downscaler(directory, device=None) -> Downscaler | BaselineDownscaler:
    """TAUDiff if ``directory/mean`` exists, else the baseline (``config.json`` kind ``taudiff-baseline``)."""
    root = Path(directory)
    if (root / "mean").is_dir():
        return Downscaler.from_checkpoint(root, device)
    if (root / ckpt.CONFIG).is_file():
        return BaselineDownscaler.from_checkpoint(root, device)
    raise ckpt.CheckpointError(
        f"{root}: neither a TAUDiff directory (mean/, residual/) nor a baseline checkpoint"
    )
