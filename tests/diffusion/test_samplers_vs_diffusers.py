"""Our DDIM and DPM-Solver++(2M) against an independent implementation: diffusers' schedulers.

Both are fed the same betas (``trained_betas`` from our cosine schedule), the same
"trailing" timesteps and the same v-prediction network; the whole trajectories
must agree. diffusers keeps betas, alphas_cumprod and (for DPM-Solver) the sample
in float32, so agreement is to float32 rounding: 1e-5 absolute on values of order 1.
Step counts divide T = 1000, because diffusers' DDIM steps to ``t - T // n``.
"""

import pytest
import torch

from climviz.diffusion import CosineSchedule, make_sampler

diffusers = pytest.importorskip("diffusers")

T = 1000
ATOL = 1e-5


def trained_betas(schedule: CosineSchedule) -> torch.Tensor:
    """``beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}`` (alpha_bar_{-1} = 1): cumprod(1 - beta) = alpha_bar."""
    ab = schedule.alpha_bar
    return 1 - ab / torch.cat([ab.new_ones(1), ab[:-1]])


def network(schedule):
    """A smooth nonlinear v-predictor (not the linear Gaussian optimum, so nonlinearity is exercised)."""

    def v(x, t):
        a, s = schedule.alpha_sigma(torch.tensor([t]))
        x0 = 0.3 * torch.tanh(2 * float(a) * x) + 0.1 * float(a) * x
        return (float(a) * x - x0) / float(s) if float(s) > 0 else -x0

    return v


def trajectories(ours, theirs, x_t, v, timesteps):
    xa, xb, out_a, out_b = x_t.clone(), x_t.clone(), [], []
    for i, t in enumerate(timesteps):
        xa, _ = ours.step(v(xa, int(t)), i, xa)
        xb = theirs.step(v(xb, int(t)), t, xb).prev_sample
        out_a.append(xa)
        out_b.append(xb)
    return torch.stack(out_a), torch.stack(out_b)


@pytest.mark.parametrize("steps", [10, 20, 50])
def test_ddim_matches_diffusers(steps):
    sched = CosineSchedule(T)
    ref = diffusers.DDIMScheduler(
        num_train_timesteps=T,
        trained_betas=trained_betas(sched).numpy(),
        prediction_type="v_prediction",
        set_alpha_to_one=True,
        clip_sample=False,
        timestep_spacing="trailing",
        steps_offset=0,
    )
    ref.set_timesteps(steps)
    ours = make_sampler("ddim", sched, steps)
    assert ours.timesteps.tolist() == ref.timesteps.tolist()
    x_t = torch.randn(256, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a, b = trajectories(ours, ref, x_t, network(sched), ref.timesteps)
    assert a.abs().max() > 0.3  # not a trajectory of zeros
    torch.testing.assert_close(a, b.to(a.dtype), rtol=0, atol=ATOL)


@pytest.mark.parametrize("steps", [10, 20, 50])
def test_dpm_solver_pp_2m_matches_diffusers(steps):
    sched = CosineSchedule(T)
    ref = diffusers.DPMSolverMultistepScheduler(
        num_train_timesteps=T,
        trained_betas=trained_betas(sched).numpy(),
        prediction_type="v_prediction",
        algorithm_type="dpmsolver++",
        solver_order=2,
        solver_type="midpoint",
        timestep_spacing="trailing",
        final_sigmas_type="zero",
        lower_order_final=True,
    )
    ref.set_timesteps(steps)
    ours = make_sampler("dpm++2m", sched, steps)
    assert ours.timesteps.tolist() == ref.timesteps.tolist()
    x_t = torch.randn(256, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a, b = trajectories(ours, ref, x_t, network(sched), ref.timesteps)
    assert a.abs().max() > 0.3
    torch.testing.assert_close(a, b.to(a.dtype), rtol=0, atol=ATOL)


def test_betas_reproduce_our_alpha_bar():
    sched = CosineSchedule(T)
    torch.testing.assert_close(
        torch.cumprod(1 - trained_betas(sched), 0), sched.alpha_bar, rtol=1e-12, atol=0
    )


def log_snr_reference(name: str, order: int, steps: int, seed: int):
    """Our ``name`` sampler and diffusers' DPM-Solver++ of ``order`` fed our log-SNR timesteps:
    both trajectories from the same noise, and that noise."""
    sched = CosineSchedule(T)
    ours = make_sampler(name, sched, steps)
    ref = diffusers.DPMSolverMultistepScheduler(
        num_train_timesteps=T,
        trained_betas=trained_betas(sched).numpy(),
        prediction_type="v_prediction",
        algorithm_type="dpmsolver++",
        solver_order=order,
        solver_type="midpoint",
        final_sigmas_type="zero",
        lower_order_final=True,
    )
    ref.set_timesteps(timesteps=ours.timesteps.tolist())
    assert ref.timesteps.tolist() == ours.timesteps.tolist()
    x_t = torch.randn(256, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    a, b = trajectories(ours, ref, x_t, network(sched), ref.timesteps)
    assert a.abs().max() > 0.3
    torch.testing.assert_close(a, b.to(a.dtype), rtol=0, atol=ATOL)
    return a, x_t


@pytest.mark.parametrize("steps", [8, 12, 20])
def test_dpm_solver_pp_2m_on_log_snr_steps_matches_diffusers(steps):
    """The log-SNR spacing changes only the timesteps: diffusers' DPM-Solver++(2M), fed ours, walks the same path."""
    log_snr_reference("dpm++2m-logsnr", 2, steps, seed=5)


@pytest.mark.parametrize("steps", [8, 12, 14, 20])
def test_dpm_solver_pp_3m_on_log_snr_steps_matches_diffusers(steps):
    """Third order (first and second order while too few predictions exist, and at the end of
    runs under 15 steps): diffusers' DPM-Solver++(3M), fed our timesteps, walks the same path."""
    a, x_t = log_snr_reference("dpm++3m-logsnr", 3, steps, seed=6)
    sched = CosineSchedule(T)
    second, x, v = make_sampler("dpm++2m-logsnr", sched, steps), x_t.clone(), network(sched)
    for i, t in enumerate(second.timesteps):
        x, _ = second.step(v(x, int(t)), i, x)
    assert (x - a[-1]).abs().max() > 10 * ATOL  # the third-order terms are exercised
