"""The step-sweep view draws one point per distinct step count, in step order."""

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (options need a backend)
import numpy as np

from climviz.ui.sweep_views import sweep_scores_view

ROWS = [
    {"steps": 10, "spread_ratio": 0.9, "crps_fair": 0.5, "crps_reference": 0.4, "wall_s": 2.0},
    {"steps": 2, "spread_ratio": 0.6, "crps_fair": 0.8, "crps_reference": 0.4, "wall_s": 0.5},
    {"steps": 10, "spread_ratio": 0.9, "crps_fair": 0.5, "crps_reference": 0.4, "wall_s": 2.1},
]


def test_panels_points_and_reference_lines():
    layout = sweep_scores_view(ROWS)
    assert len(layout) == 3
    crps, spread, wall = layout
    curve = [e for e in crps if isinstance(e, hv.Curve)][0]
    np.testing.assert_array_equal(curve.dimension_values(0), [2.0, 10.0])
    np.testing.assert_array_equal(curve.dimension_values(1), [0.8, 0.5])
    assert [e.data for e in crps if isinstance(e, hv.HLine)] == [0.4]
    assert [e.data for e in spread if isinstance(e, hv.HLine)] == [1.0]
    np.testing.assert_array_equal(
        [e for e in wall if isinstance(e, hv.Curve)][0].dimension_values(1), [0.5, 2.0]
    )
    hv.render(layout, backend="bokeh")


def test_no_reference_line_without_a_reference():
    rows = [dict(r, crps_reference=float("nan"), spread_ratio=float("nan")) for r in ROWS]
    crps = sweep_scores_view(rows)[0]
    assert not [e for e in crps if isinstance(e, hv.HLine)]
