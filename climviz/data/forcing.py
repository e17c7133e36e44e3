"""Historical forcing shared by the synthetic ensemble and the diagnostics.

Eruption dates are the real ones. ``peak_aod`` is the peak of the global-mean
stratospheric aerosol optical depth pulse used by the synthetic ensemble
(:func:`climviz.data.ebm.aod_pulse`, ``-25 W m-2`` per unit AOD, Hansen et al.
2005). For Agung, El Chichon and Pinatubo it is fitted (with the pulse shape)
so that the annual-mean forcing matches :data:`RCMIP_VOLCANIC_ERF`; the three
earlier eruptions, which have no such reference here, keep their former
Sato et al. (1993) orders of magnitude scaled by the mean ratio of the fitted
to the former values (0.67).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Eruption:
    name: str  # common name
    year: int  # eruption year
    month: int  # eruption month (1-12)
    lat: float  # volcano latitude, degrees north
    peak_aod: float  # approximate peak global-mean stratospheric AOD


ERUPTIONS: tuple[Eruption, ...] = (
    Eruption("Krakatau", 1883, 8, -6.1, 0.087),
    Eruption("Santa Maria", 1902, 10, 14.8, 0.040),
    Eruption("Novarupta", 1912, 6, 58.3, 0.034),
    Eruption("Agung", 1963, 3, -8.3, 0.071),
    Eruption("El Chichon", 1982, 4, 17.4, 0.053),
    Eruption("Pinatubo", 1991, 6, 15.1, 0.108),
)

# Annual-mean stratospheric volcanic effective radiative forcing (W m-2) in the
# eruption year and the year after, from RCMIP (Nicholls et al. 2020, GMD 13,
# 5175-5190; the CMIP6 historical volcanic forcing). The synthetic forcing is
# fitted to these six numbers.
RCMIP_VOLCANIC_ERF: dict[str, tuple[float, float]] = {
    "Agung": (-0.88, -0.78),
    "El Chichon": (-0.32, -0.84),
    "Pinatubo": (-0.58, -1.85),
}

ERUPTIONS_BY_NAME = {e.name: e for e in ERUPTIONS}


def eruptions_between(start_year: int, end_year: int) -> list[tuple[str, float]]:
    """``(name, decimal year)`` of the eruptions in ``start_year``..``end_year`` (for marks on time axes)."""
    return [(e.name, e.year + (e.month - 0.5) / 12) for e in ERUPTIONS if start_year <= e.year <= end_year]
