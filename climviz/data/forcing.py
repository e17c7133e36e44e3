"""Historical forcing shared by the synthetic ensemble and the diagnostics.

Eruption dates are the real ones; ``peak_aod`` is the approximate peak global
mean stratospheric aerosol optical depth at 550 nm (Sato et al. 1993 /
Crowley & Unterman 2013 orders of magnitude). Radiative forcing is roughly
``-25 W m-2`` per unit AOD (Hansen et al. 2005).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Eruption:
    name: str        # common name
    year: int        # eruption year
    month: int       # eruption month (1-12)
    lat: float       # volcano latitude, degrees north
    peak_aod: float  # approximate peak global-mean stratospheric AOD


ERUPTIONS: tuple[Eruption, ...] = (
    Eruption("Krakatau", 1883, 8, -6.1, 0.13),
    Eruption("Santa Maria", 1902, 10, 14.8, 0.06),
    Eruption("Novarupta", 1912, 6, 58.3, 0.05),
    Eruption("Agung", 1963, 3, -8.3, 0.10),
    Eruption("El Chichon", 1982, 4, 17.4, 0.09),
    Eruption("Pinatubo", 1991, 6, 15.1, 0.15),
)

ERUPTIONS_BY_NAME = {e.name: e for e in ERUPTIONS}
