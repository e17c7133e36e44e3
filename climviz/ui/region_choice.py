"""The region a tab looks at: one of the named regions or a custom box (Param only: no Panel here).

Both the ensemble and the downscaling state inherit :class:`RegionChoice`, so the
list, the ``CUSTOM`` entry, the box text and the box drawn on a map mean the
same thing in every tab.
"""

from __future__ import annotations

import param

from climviz.data.regions import REGIONS, Region, get_region

CUSTOM = "Custom box"


class RegionChoice(param.Parameterized):
    """``region`` from the list, or ``CUSTOM`` for ``box``; :meth:`selection` is the Region."""

    region = param.Selector(default="Global", objects=[*REGIONS, CUSTOM], doc="Region")
    box = param.String(default="-10,10,160,260", doc="Custom box: lat_min,lat_max,lon_min,lon_max")

    def selection(self) -> Region:
        """The :class:`~climviz.data.regions.Region` chosen (list or box)."""
        return get_region(self.box if self.region == CUSTOM else self.region)

    def set_box(self, lon0: float, lat0: float, lon1: float, lat1: float) -> None:
        """Set a custom region from a box drawn on a map (degrees east, any convention);
        a box without area is ignored."""
        lat_min, lat_max = sorted((max(-90.0, lat0), min(90.0, lat1)))
        if lat_max - lat_min < 1e-6 or abs(lon1 - lon0) < 1e-6:
            return
        lo, hi = lon0 % 360.0, lon1 % 360.0
        self.param.update(box=f"{lat_min:.1f},{lat_max:.1f},{lo:.1f},{hi:.1f}", region=CUSTOM)
