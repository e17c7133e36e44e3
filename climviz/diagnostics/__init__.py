"""Diagnostics: xarray in, xarray out (area means, ENSO, spectra, volcanic composites, scores,
vorticity and vortices, time coherence).

Weights are cos(latitude) throughout; dimension names are keyword arguments.
torch is imported only inside the spherical-harmonic kernels of ``spectra`` and ``vorticity``.
"""

from climviz.diagnostics.agreement import agreeing_points, agreement_mask, sign_agreement
from climviz.diagnostics.enso import eofs, nino34_anomalies, nino34_index, pattern_correlation
from climviz.diagnostics.means import anomalies, area_mean, area_weights, climatology
from climviz.diagnostics.scores import crps_ensemble, rank_histogram, spread_ratio, spread_skill_ratio
from climviz.diagnostics.spectra import (
    fft_power_spectrum,
    ke_spectrum,
    peak_period,
    sh_power_spectrum,
    temporal_power_spectrum,
)
from climviz.diagnostics.time_coherence import matched_share, mean_squared_change, track_continuity
from climviz.diagnostics.timeseries import autocorrelation, autocovariance, band_variance, multitaper_spectrum
from climviz.diagnostics.volcanic import volcanic_composite
from climviz.diagnostics.vorticity import relative_vorticity, vortex_centres, vortex_peaks

__all__ = [
    "agreeing_points",
    "agreement_mask",
    "anomalies",
    "area_mean",
    "area_weights",
    "autocorrelation",
    "autocovariance",
    "band_variance",
    "climatology",
    "crps_ensemble",
    "eofs",
    "fft_power_spectrum",
    "ke_spectrum",
    "matched_share",
    "mean_squared_change",
    "multitaper_spectrum",
    "nino34_anomalies",
    "nino34_index",
    "pattern_correlation",
    "peak_period",
    "rank_histogram",
    "relative_vorticity",
    "sh_power_spectrum",
    "sign_agreement",
    "spread_ratio",
    "spread_skill_ratio",
    "temporal_power_spectrum",
    "track_continuity",
    "volcanic_composite",
    "vortex_centres",
    "vortex_peaks",
]
