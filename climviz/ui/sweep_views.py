"""Views of the step sweep (HoloViews only): what more sampler steps buy, and what they cost.

``rows`` are those of :func:`climviz.pipelines.steps_sweep.sweep_steps` (or ``StepsSweep.rows``).
"""

from __future__ import annotations

import holoviews as hv
import numpy as np

from climviz.ui.views import GEN, TRUE


def _by_steps(rows: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, value)`` sorted by steps, one point per distinct step count (the first row of each)."""
    first = {}
    for r in rows:
        first.setdefault(int(r["steps"]), float(r[key]))
    steps = np.array(sorted(first), dtype=float)
    return steps, np.array([first[int(s)] for s in steps])


def _line(rows, key, ylabel, label, color):
    steps, vals = _by_steps(rows, key)
    return hv.Curve((steps, vals), "sampler steps", ylabel, label=label).opts(
        color=color, line_width=2
    ) * hv.Scatter((steps, vals), "sampler steps", ylabel).opts(color=color, size=6)


def sweep_scores_view(rows: list[dict], *, width: int = 420, height: int = 280) -> hv.Layout:
    """Three panels against the step count: fair CRPS (the true reference ensemble's CRPS dashed,
    what a perfect generator scores), spread ratio (1 dashed) and wall time."""
    opts = dict(width=width, height=height, show_grid=True, logx=True)
    crps = _line(rows, "crps_fair", "CRPS (K)", "generated", GEN)
    ref = float(rows[0]["crps_reference"]) if rows else float("nan")
    if np.isfinite(ref):
        crps = crps * hv.HLine(ref, label="true ensemble").opts(color=TRUE, line_dash="dashed")
    spread = _line(rows, "spread_ratio", "spread ratio", "generated", GEN) * hv.HLine(1.0).opts(
        color="black", line_dash="dashed"
    )
    wall = _line(rows, "wall_s", "wall time (s)", "wall time", "#555555")
    return (
        crps.opts(title="CRPS vs steps (lower is better)", legend_position="top_right", **opts)
        + spread.opts(title="Spread ratio vs steps (1 is right)", **opts)
        + wall.opts(title="What the steps cost", **opts)
    ).cols(3)
