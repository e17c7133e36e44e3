"""Embedded default wind data: global u/v from a forced spherical shallow-water model.

The TAUDiff downscaler (Sundar et al., arXiv 2412.13627) is trained on global
wind. No reanalysis can be downloaded here, so the embedded default is
**synthetic**: the rotating shallow-water equations on an Earth-sized sphere,
integrated with the spectral solver shipped in ``torch-harmonics`` 0.8.0
(``torch_harmonics.examples.shallow_water_equations.ShallowWaterSolver``).

What is ours on top of the solver (its ``dudtspec`` gives the adiabatic
tendencies, its ``hyperdiff`` the del^8 hyperdiffusion, e-folding 2 h at the
truncation degree):

* 2/3-rule dealiasing, ``lmax = mmax = nlat // 3 * 2``; with the solver's
  default ``lmax`` it blows up within a few hundred steps.
* A forced-dissipative, statistically steady flow instead of decaying
  turbulence, so a year of output has the same statistics throughout:
  the zonal-mean vorticity relaxes to two westerly jets (45 N/S, 30 m/s),
  which are barotropically unstable and shed meanders and vortices; eddies
  and divergence feel a linear drag; a red-in-time (Ornstein-Uhlenbeck)
  random vorticity forcing in degrees 8-16 stirs synoptic-scale vortices.
* A balanced random initial state (nonlinear balance for the geopotential,
  as in the solver's Galewsky case) drawn from a ``torch.Generator``; the
  solver's own ``random_initial_condition`` uses the global RNG and a white
  spectrum that decays to ~2 m/s winds within a day, so it is not used.
* Third-order Adams-Bashforth as in ``ShallowWaterSolver.timestep``, with the
  forcing added to the tendency and the step history kept across output times.

State and arithmetic are float32 (4x faster than float64 on CPU, measured;
stable over 60 days). Identical seeds give identical output on the same
machine and thread count; the flow is chaotic, so a different BLAS or thread
count may diverge after a few weeks.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import cftime
import numpy as np
import xarray as xr

from climviz import __version__
from climviz.data.grid import CALENDAR

TIME_UNITS = "hours since 2000-01-01 00:00:00"
SYNTHETIC_COMMENT = (
    "Synthetic data: output of a forced spherical shallow-water model "
    "(torch-harmonics ShallowWaterSolver) made by climviz. It is NOT observations "
    "or reanalysis and must not be read as real weather."
)
VAR_ATTRS = {
    "u": {"standard_name": "eastward_wind", "long_name": "eastward wind", "units": "m s-1"},
    "v": {"standard_name": "northward_wind", "long_name": "northward wind", "units": "m s-1"},
    "vort": {
        "standard_name": "atmosphere_relative_vorticity",
        "long_name": "relative vorticity",
        "units": "s-1",
    },
}


@dataclass(frozen=True)
class WindModelConfig:
    """Physical and numerical settings of the toy wind model (defaults: Earth)."""

    jet_speed: float = 30.0  # m/s, peak of each relaxation jet
    jet_lat: float = 45.0  # deg, jet axis latitude (N and S)
    jet_width: float = 8.0  # deg, Gaussian half-width of each jet
    jet_relax_days: float = 4.0  # zonal-mean vorticity relaxation time
    drag_days: float = 20.0  # linear drag on eddy vorticity and all divergence
    forcing_rms: float = 5e-11  # s-2, grid rms of the random vorticity forcing
    forcing_lmin: int = 8  # lowest forced degree
    forcing_lmax: int = 16  # highest forced degree (inclusive)
    forcing_memory_hours: float = 24.0  # decorrelation time of the forcing
    perturbation_rms: float = 1e-5  # s-1, grid rms of the initial eddy vorticity
    mean_depth: float = 10e3  # m, mean fluid depth (external mode)
    courant: float = 0.55  # (gravity-wave + 50 m/s) Courant number for dt


class ToyWindModel:
    """The forced shallow-water integrator around torch-harmonics' solver.

    Parameters
    ----------
    nlat, nlon : int
        Gaussian (Legendre-Gauss) grid size, ``nlon == 2 * nlat``, ``nlat >= 32``.
    dt : float
        Time step in seconds.
    generator : torch.Generator
        Source of all randomness (initial state and forcing).
    config : WindModelConfig
    """

    def __init__(self, nlat: int, nlon: int, dt: float, generator, config: WindModelConfig):
        import torch
        from torch_harmonics.examples.shallow_water_equations import ShallowWaterSolver

        self.config, self.dt, self.gen = config, float(dt), generator
        lmax = nlat // 3 * 2  # 2/3-rule dealiasing
        solver = ShallowWaterSolver(
            nlat, nlon, self.dt, lmax=lmax, mmax=lmax, grid="legendre-gauss", havg=config.mean_depth
        )
        self.solver = s = solver.to(torch.float32)
        self.lmax = s.lmax
        lat = s.lats.reshape(-1, 1)  # radians, north first
        phi0, w = math.radians(config.jet_lat), math.radians(config.jet_width)
        ujet = config.jet_speed * (
            torch.exp(-(((lat - phi0) / w) ** 2)) + torch.exp(-(((lat + phi0) / w) ** 2))
        )
        ujet = ujet.expand(nlat, nlon)
        self.zeta_jet = s.vrtdivspec(torch.stack((ujet, torch.zeros_like(ujet))))[0]
        band = (s.l >= config.forcing_lmin) & (s.l <= min(config.forcing_lmax, self.lmax - 1))
        self.band = band.to(torch.complex64)
        self._unit = 1.0
        self._unit = float(s.spec2grid(self._band_noise()).pow(2).mean().sqrt())
        self.r = math.exp(-self.dt / (3600.0 * config.forcing_memory_hours))
        self.q = config.forcing_rms * self._band_noise()
        self.history = None  # Adams-Bashforth tendencies [3, 3, lmax, mmax]
        self.nsteps = 0

    def _band_noise(self):
        """Complex white noise in the forcing band with unit grid rms, ``[lmax, mmax]``."""
        import torch

        x = torch.randn(2, self.lmax, self.lmax, generator=self.gen)
        return torch.tril(torch.complex(x[0], x[1])) * self.band / self._unit

    def initial_state(self):
        """Jets plus random eddies, geopotential from nonlinear balance, ``[3, lmax, mmax]``."""
        import torch

        s = self.solver
        zeta = self.zeta_jet + self.config.perturbation_rms * self._band_noise()
        uv = s.getuv(torch.stack((zeta, torch.zeros_like(zeta))))
        eta = s.spec2grid(zeta) + s.coriolis
        curl = s.vrtdivspec(uv * eta)[0]
        # 0 = curl(eta u) - lap(phi + K)  (divergence equation with div = 0)
        phi = s.invlap * curl - s.grid2spec(0.5 * (uv**2).sum(0))
        phi = phi + s.grid2spec(torch.full_like(eta, float(s.gravity * s.havg)))
        return torch.tril(torch.stack((phi, zeta, torch.zeros_like(zeta))))

    def forcing(self, state):
        """Relaxation, drag and stochastic stirring tendencies, ``[3, lmax, mmax]``."""
        import torch

        c = self.config
        tau_d, tau_j = 86400.0 * c.drag_days, 86400.0 * c.jet_relax_days
        f = torch.zeros_like(state)
        f[1] = -state[1] / tau_d + self.q
        f[1, :, 0] += self.zeta_jet[:, 0] / tau_d + (self.zeta_jet[:, 0] - state[1, :, 0]) / tau_j
        f[2] = -state[2] / tau_d
        return f

    def advance(self, state, nsteps: int):
        """Integrate ``nsteps`` steps (AB3, as the solver's ``timestep``), return the state."""
        import torch

        s, dt = self.solver, self.dt
        if self.history is None:
            self.history = torch.zeros((3, *state.shape), dtype=state.dtype)
        h = self.history
        for _ in range(nsteps):
            h[:] = torch.roll(h, 1, dims=0)  # h[0] newest, h[1] previous, h[2] oldest
            h[0] = s.dudtspec(state) + self.forcing(state)
            if self.nsteps == 0:
                h[1] = h[0]
                h[2] = h[0]
            elif self.nsteps == 1:
                h[2] = h[1]
            state = state + dt * ((23.0 / 12.0) * h[0] - (16.0 / 12.0) * h[1] + (5.0 / 12.0) * h[2])
            state[1:] = s.hyperdiff * state[1:]  # implicit hyperdiffusion of vort, div
            self.q = (
                self.r * self.q + math.sqrt(1.0 - self.r**2) * self.config.forcing_rms * self._band_noise()
            )
            self.nsteps += 1
        return state

    def to_grid(self, state) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(u, v, vort)`` as float32 arrays ``[nlat, nlon]``, latitude ascending."""
        s = self.solver
        uv = s.getuv(state[1:])
        vort = s.spec2grid(state[1])
        out = (uv[0], uv[1], vort)
        return tuple(np.ascontiguousarray(x.detach().numpy()[::-1], dtype=np.float32) for x in out)


def time_step(
    nlat: int, interval_hours: float, config: WindModelConfig = WindModelConfig()
) -> tuple[float, int]:
    """Time step (s) and steps per output interval for ``nlat`` Gaussian rows.

    ``dt`` keeps ``(sqrt(g H) + 50 m/s) * sqrt(L (L + 1)) / a * dt <= courant``
    at the truncation degree ``L`` (AB3 is stable to ~0.72 on the imaginary
    axis) and divides the output interval exactly.
    """
    lmax = nlat // 3 * 2
    c = math.sqrt(9.80616 * config.mean_depth) + 50.0
    omega = c * math.sqrt((lmax - 1) * lmax) / 6.37122e6
    interval = 3600.0 * interval_hours
    nsub = max(1, math.ceil(interval / (config.courant / omega)))
    return interval / nsub, nsub


def _check(
    grid: tuple[int, int], days: float, interval_hours: float, spinup_days: float
) -> tuple[int, int, int]:
    nlat, nlon = grid
    if nlat < 32 or nlon != 2 * nlat:
        raise ValueError(f"toy wind needs a Gaussian grid NLATx(2*NLAT) with NLAT >= 32, got {nlat}x{nlon}")
    if interval_hours <= 0 or days <= 0 or spinup_days < 0:
        raise ValueError("days and interval_hours must be positive and spinup_days >= 0")
    ntimes = int(round(days * 24.0 / interval_hours))
    if ntimes < 1:
        raise ValueError(f"days={days} is shorter than one output interval of {interval_hours} h")
    return nlat, nlon, ntimes


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run torch with ``threads`` intra-op threads inside the block, restore afterwards.

    One thread is the default: the transforms at these sizes gain little from
    more, and on a shared CPU two threads were measured 3x *slower* per step.
    """
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class WindRun:
    """One run of :class:`ToyWindModel`: spin-up, then output frames in blocks, resumable.

    :meth:`blocks` yields ``(hours [T], u, v, vort [T, lat, lon])`` of about
    ``block_hours`` each; between two blocks :meth:`snapshot` captures everything
    the rest of the run depends on (spectral state, Adams-Bashforth history,
    forcing, generator state, counters), and :meth:`restore` on a fresh run with
    the same arguments continues from it exactly.
    """

    def __init__(self, grid, days, seed, interval_hours, spinup_days, config: WindModelConfig):
        import torch

        self.nlat, self.nlon, self.ntimes = _check(grid, days, interval_hours, spinup_days)
        self.interval_hours, self.spinup_days = float(interval_hours), float(spinup_days)
        self.dt, self.nsub = time_step(self.nlat, interval_hours, config)
        self.gen = torch.Generator().manual_seed(int(seed))
        self.model = ToyWindModel(self.nlat, self.nlon, self.dt, self.gen, config)
        self.state = self.model.initial_state()
        self.next_frame = 0  # index of the next output time
        self.spun_up = spinup_days <= 0

    @property
    def total_days(self) -> int:
        return math.ceil(self.spinup_days + self.ntimes * self.interval_hours / 24.0 - 1e-9)

    def _days_done(self) -> int:
        return min(
            self.total_days,
            math.ceil(self.spinup_days + self.next_frame * self.interval_hours / 24.0 - 1e-9),
        )

    def _spin_up(self, progress) -> None:
        steps_per_day = 86400.0 / self.dt
        spin_steps = int(round(self.spinup_days * steps_per_day))
        for day in range(math.ceil(self.spinup_days - 1e-9)):
            n = min(spin_steps, int(round((day + 1) * steps_per_day))) - self.model.nsteps
            self.state = self.model.advance(self.state, n)
            if progress is not None:
                progress(day + 1, self.total_days)
        self.spun_up = True

    def blocks(self, progress=None, block_hours: float = 24.0):
        """Yield the remaining output blocks; ``progress(done_days, total_days)`` after each day."""
        import torch

        if not self.spun_up:
            self._spin_up(progress)
        done_days = self._days_done()
        per_block = max(1, int(round(block_hours / self.interval_hours)))
        while self.next_frame < self.ntimes:
            idx = range(self.next_frame, min(self.next_frame + per_block, self.ntimes))
            frames = []
            for k in idx:
                if k > 0:
                    self.state = self.model.advance(self.state, self.nsub)
                frames.append(self.model.to_grid(self.state))
                if not torch.isfinite(torch.as_tensor(frames[-1][0])).all():
                    raise RuntimeError(
                        f"toy wind model went unstable at output time {k} (dt={self.dt:.1f} s)"
                    )
            self.next_frame = idx[-1] + 1
            hours = np.asarray(list(idx), dtype=np.float64) * self.interval_hours
            u, v, vort = (np.stack(x) for x in zip(*frames))
            yield hours, u, v, vort
            if progress is not None and self._days_done() > done_days:
                done_days = self._days_done()
                progress(done_days, self.total_days)

    def snapshot(self) -> tuple[dict, dict]:
        """``(tensors, counters)``: what :meth:`restore` needs (complex tensors stored as real pairs)."""
        import torch

        m = self.model
        tensors = {"state": torch.view_as_real(self.state), "q": torch.view_as_real(m.q)}
        if m.history is not None:
            tensors["history"] = torch.view_as_real(m.history)
        tensors["generator"] = self.gen.get_state()
        counters = {"nsteps": m.nsteps, "next_frame": self.next_frame, "spun_up": self.spun_up}
        return {k: v.contiguous() for k, v in tensors.items()}, counters

    def restore(self, tensors: dict, counters: dict) -> None:
        """Continue from a :meth:`snapshot` of a run with the same arguments."""
        import torch

        m = self.model
        if tuple(tensors["state"].shape[:-1]) != tuple(self.state.shape):
            raise ValueError("the saved wind model state does not fit this grid")
        self.state = torch.view_as_complex(tensors["state"].contiguous()).clone()
        m.q = torch.view_as_complex(tensors["q"].contiguous()).clone()
        m.history = (
            torch.view_as_complex(tensors["history"].contiguous()).clone() if "history" in tensors else None
        )
        self.gen.set_state(tensors["generator"].clone())
        m.nsteps, self.next_frame = int(counters["nsteps"]), int(counters["next_frame"])
        self.spun_up = bool(counters["spun_up"])


def dataset_attrs(grid, days, seed, interval_hours, spinup_days, config) -> dict:
    """The global attributes of a toy wind data set (provenance, solver settings, synthetic label)."""
    import torch_harmonics

    nlat, nlon = grid
    dt, _ = time_step(nlat, interval_hours, config)
    attrs = {
        "Conventions": "CF-1.8",
        "title": "climviz toy wind: synthetic global u, v and relative vorticity",
        "synthetic": "yes",
        "comment": SYNTHETIC_COMMENT,
        "source": f"torch-harmonics {torch_harmonics.__version__} ShallowWaterSolver, forced (climviz)",
        "institution": "synthetic (climviz)",
        "generator": "climviz.data.toy_wind",
        "generator_version": __version__,
        "seed": int(seed),
        "grid": f"{nlat}x{nlon} legendre-gauss",
        "solver_lmax": nlat // 3 * 2,
        "solver_mmax": nlat // 3 * 2,
        "solver_dt_seconds": float(dt),
        "solver_time_scheme": "Adams-Bashforth 3, implicit del^8 hyperdiffusion (e-folding 2 h at lmax)",
        "solver_dealiasing": "2/3 rule",
        "solver_float": "float32",
        "spinup_days": float(spinup_days),
        "interval_hours": float(interval_hours),
        "days": float(days),
    }
    attrs.update({f"model_{k}": v for k, v in asdict(config).items()})
    return attrs


def grid_coords(nlat: int, nlon: int) -> tuple[xr.DataArray, xr.DataArray]:
    """``lat`` (Gaussian, ascending) and ``lon`` coordinates of the solver's grid, with CF attributes."""
    from torch_harmonics.quadrature import _precompute_longitudes, legendre_gauss_weights

    # the solver's own nodes: lats = -arcsin(cost), lons = 2 pi k / nlon
    cost, _ = legendre_gauss_weights(nlat, -1, 1)
    lat = np.rad2deg(np.arcsin(cost.double().numpy()))  # ascending
    lon = np.rad2deg(_precompute_longitudes(nlon).double().numpy())
    lat_da = xr.DataArray(
        lat,
        dims="lat",
        attrs={
            "standard_name": "latitude",
            "long_name": "latitude (Gaussian)",
            "units": "degrees_north",
            "axis": "Y",
        },
    )
    lon_da = xr.DataArray(
        lon,
        dims="lon",
        attrs={"standard_name": "longitude", "long_name": "longitude", "units": "degrees_east", "axis": "X"},
    )
    return lat_da, lon_da


def block_dataset(hours, u, v, vort, lat, lon, attrs) -> xr.Dataset:
    """One block of :meth:`WindRun.blocks` as a CF Dataset (``hours`` since 2000-01-01)."""
    times = cftime.num2date(hours, TIME_UNITS, calendar=CALENDAR)
    time = xr.DataArray(times, dims="time", attrs={"standard_name": "time", "axis": "T"})
    data = {
        name: xr.DataArray(x, dims=("time", "lat", "lon"), attrs=VAR_ATTRS[name])
        for name, x in (("u", u), ("v", v), ("vort", vort))
    }
    ds = xr.Dataset(data, coords={"time": time, "lat": lat, "lon": lon}, attrs=attrs)
    ds["time"].encoding.update(units=TIME_UNITS, calendar=CALENDAR, dtype="float64")
    return ds


def toy_wind(
    grid: tuple[int, int] = (128, 256),
    days: float = 30.0,
    seed: int = 0,
    interval_hours: float = 6.0,
    spinup_days: float = 10.0,
    *,
    config: WindModelConfig = WindModelConfig(),
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = 1,
) -> xr.Dataset:
    """Simulate the synthetic wind data set in memory.

    Parameters
    ----------
    grid : (nlat, nlon)
        Gaussian grid, ``nlon == 2 * nlat``, ``nlat >= 32``.
    days : float
        Simulated days saved after the spin-up; ``round(days * 24 / interval_hours)``
        output times, the first one at the end of the spin-up (2000-01-01 00:00).
    seed : int
        Seed of the ``torch.Generator`` that draws the initial eddies and forcing.
    interval_hours : float
        Output interval (hours).
    spinup_days : float
        Days integrated and discarded before the first output.
    config : WindModelConfig
        Model settings.
    progress : callable, optional
        ``progress(done_days, total_days)`` after each simulated day (spin-up included).
    threads : int or None
        torch intra-op threads while simulating (restored afterwards); ``None``
        leaves torch's setting alone.

    Returns
    -------
    xr.Dataset
        ``u``, ``v`` (m s-1) and ``vort`` (s-1), float32, dims ``(time, lat, lon)``;
        lat ascending (Gaussian, deg N), lon in [0, 360); cftime time stamps.
        ``attrs["synthetic"] == "yes"``.
    """
    attrs = dataset_attrs(grid, days, seed, interval_hours, spinup_days, config)
    lat, lon = grid_coords(*grid)
    run = WindRun(grid, days, seed, interval_hours, spinup_days, config)
    with torch_threads(threads):
        blocks = [block_dataset(*b, lat, lon, attrs) for b in run.blocks(progress)]
    ds = xr.concat(blocks, dim="time", combine_attrs="override")
    ds["time"].encoding.update(units=TIME_UNITS, calendar=CALENDAR, dtype="float64")
    return ds
