"""State of the ensemble explorer page (Param only: no Panel import here)."""

from __future__ import annotations

import param
import xarray as xr

from climviz.data.forcing import eruptions_between
from climviz.data.observed import hadcrut5_global_annual
from climviz.data.regions import REGIONS
from climviz.ui.sources import embedded_area_mean, embedded_ensemble


class EnsembleExplorer(param.Parameterized):
    """Browse the embedded ensemble: a month's map and a regional-mean plume."""

    members = param.Integer(default=10, bounds=(1, 30), doc="Members of the embedded ensemble to show")
    member = param.Integer(default=0, bounds=(0, 29), doc="Member shown on the map")
    region = param.Selector(default="Global", objects=list(REGIONS), doc="Region of the time series")
    year = param.Integer(default=1992, bounds=(1850, 2005), doc="Year of the map")
    month = param.Integer(default=1, bounds=(1, 12), doc="Month of the map")
    smoothing = param.Integer(default=12, bounds=(1, 60), doc="Running mean of the time series (months)")
    anomaly = param.Boolean(default=True, doc="Show the map as anomaly from the 1850-1879 mean")

    @param.depends("members")
    def ensemble(self) -> xr.DataArray:
        return embedded_ensemble(members=self.members)

    @param.depends("members", "member", "year", "month", "anomaly")
    def month_field(self) -> xr.DataArray:
        """``(lat, lon)`` field of the chosen member and month (K, or anomaly in K)."""
        ens = self.ensemble()
        m = min(self.member, ens.sizes["member"] - 1)
        run = ens.isel(member=m)
        t = (self.year - int(ens["time"].dt.year[0])) * 12 + self.month - 1
        field = run.isel(time=t)
        if self.anomaly:
            base = run.isel(time=slice(0, 30 * 12))
            field = field - base.isel(time=slice(self.month - 1, None, 12)).mean("time")
            field.attrs = {"long_name": "temperature anomaly vs 1850-1879", "units": "K"}
        return field

    @param.depends("members", "region", "smoothing")
    def regional_series(self) -> xr.DataArray:
        """``(member, time)`` area-weighted regional mean, running-mean smoothed."""
        series = embedded_area_mean(self.members, self.region)  # cached per process
        if self.smoothing > 1:
            series = series.rolling(time=self.smoothing, center=True).mean()
        return series

    @param.depends("members", "region", "smoothing")
    def plume_stats(self) -> xr.Dataset:
        """Ensemble mean and 5-95% range of :meth:`regional_series` over members."""
        s = self.regional_series()
        q = s.quantile([0.05, 0.95], dim="member")
        return xr.Dataset(
            {
                "mean": s.mean("member"),
                "low": q.sel(quantile=0.05, drop=True),
                "high": q.sel(quantile=0.95, drop=True),
            }
        )

    @param.depends("members")
    def observed_comparison(self) -> xr.Dataset:
        """Annual global means beside the observed HadCRUT5 series, both as anomalies vs 1961-1990.

        ``synthetic (member, year)``: each embedded member's annual global mean minus its own
        1961-1990 mean (the HadCRUT5 reference period); ``observed``, ``observed_low`` and
        ``observed_high`` (``year``): HadCRUT5 and its 95% range over the same years.
        """
        gm = embedded_area_mean(self.members, "Global")
        annual = gm.groupby("time.year").mean("time")
        annual = annual - annual.sel(year=slice(1961, 1990)).mean("year")
        obs = hadcrut5_global_annual().sel(year=annual["year"].values)
        return xr.Dataset(
            {
                "synthetic": annual.transpose("member", "year"),
                "observed": ("year", obs["anomaly"].values),
                "observed_low": ("year", obs["lower"].values),
                "observed_high": ("year", obs["upper"].values),
            },
            attrs={"observed_source": obs.attrs["source"], "observed_label": obs.attrs["label"]},
        )

    @staticmethod
    def eruptions(start_year: int = 1850, end_year: int = 2005) -> list[tuple[str, float]]:
        """(name, decimal year) of eruptions inside the period."""
        return eruptions_between(start_year, end_year)
