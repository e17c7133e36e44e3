"""What more sampler steps buy: the same small request at several step counts, scored.

For teaching: one conditioning run, one seed, the same members, only ``steps`` changes; each
row says how the generated ensemble scores against the truth and how long it took. The scores
are those of the ensemble tab (:mod:`climviz.diagnostics.scores`, cos-lat weighted over the
whole grid and period).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from climviz.diagnostics.means import area_weights
from climviz.diagnostics.scores import crps_ensemble, spread_ratio, spread_skill_ratio
from climviz.requests import GenerationRequest
from climviz.vocabulary import DEFAULT_MODE, DEFAULT_SAMPLER

DEFAULT_SWEEP = (2, 5, 10, 20)

Progress = Callable[[int, int], None]


def _generate(
    generator, cond: xr.DataArray, steps: int, n_members: int, seed: int, sampler: str, mode: str, progress
):
    """One request, made as the ensemble tab makes it."""
    request = GenerationRequest(n_members=n_members, steps=steps, mode=mode, seed=seed, sampler=sampler)
    return generator.generate(cond, request, progress=progress)


def score_row(
    ens: xr.DataArray, truth: xr.DataArray, reference: xr.DataArray | None, weights: xr.DataArray
) -> dict:
    """Scores of ``ens (member, time, lat, lon)`` against ``truth (time, lat, lon)``.

    ``crps_fair`` (K): fair CRPS against the truth; ``spread_skill``: spread-skill ratio
    against the truth (1 for a calibrated ensemble); ``spread_ratio``: generated spread over the
    spread of the true ``reference`` ensemble (NaN without one).
    """
    return {
        "spread_ratio": float(spread_ratio(ens, reference, weights=weights))
        if reference is not None
        else np.nan,
        "spread_skill": float(spread_skill_ratio(ens, truth, weights=weights)),
        "crps_fair": float(crps_ensemble(ens, truth, weights=weights)),
    }


def sweep_steps(
    generator,
    cond: xr.DataArray,
    truth: xr.DataArray,
    steps: Sequence[int] = DEFAULT_SWEEP,
    *,
    reference: xr.DataArray | None = None,
    n_members: int = 5,
    seed: int = 0,
    sampler: str = DEFAULT_SAMPLER,
    mode: str = DEFAULT_MODE,
    report: Progress | None = None,
) -> list[dict]:
    """Generate the same request at each step count and score it.

    Parameters
    ----------
    generator : an :class:`~climviz.pipelines.ensemble.EnsembleGenerator`.
    cond : ``(time, lat, lon)`` conditioning run (K).
    truth : ``(time, lat, lon)`` a held-out true member on the same grid and months.
    steps : sampler step counts, each 1 .. the model's training steps.
    reference : ``(member, time, lat, lon)`` true reference ensemble, or None; gives
        ``spread_ratio`` and ``crps_reference``.
    n_members, seed, sampler, mode : the request, the same at every step count.
    report : ``report(done, total)`` over the whole sweep (network evaluations scale with
        ``steps``, so each step count takes its share); it may raise to cancel.

    Returns
    -------
    One dict per step count, in the order given: ``steps``, ``spread_ratio``, ``spread_skill``,
    ``crps_fair`` (K), ``crps_reference`` (K: the fair CRPS of the true reference ensemble
    against the truth, what a perfect generator scores; NaN without ``reference``), ``wall_s``.
    """
    steps = [int(s) for s in steps]
    if not steps or min(steps) < 1:
        raise ValueError(f"steps must be a non-empty list of integers >= 1, got {steps}")
    weights = area_weights(truth)
    crps_ref = float(crps_ensemble(reference, truth, weights=weights)) if reference is not None else np.nan
    total, before, rows = sum(steps), 0, []
    for s in steps:

        def progress(done, n, before=before, s=s):
            if report is not None:
                report(int(1000 * (before + s * done / max(1, n)) / total), 1000)

        t0 = time.perf_counter()
        ens = _generate(generator, cond, s, n_members, seed, sampler, mode, progress)
        wall = time.perf_counter() - t0
        rows.append(
            {
                "steps": s,
                **score_row(ens, truth, reference, weights),
                "crps_reference": crps_ref,
                "wall_s": wall,
            }
        )
        before += s
    if report is not None:
        report(1000, 1000)
    return rows
