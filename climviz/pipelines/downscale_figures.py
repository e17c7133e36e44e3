"""PNG figures of a downscaling evaluation (matplotlib; no Panel, no torch).

:func:`write_figures` draws, from the report of
:func:`~climviz.pipelines.downscale_eval.evaluate_downscale` and its fields:
kinetic-energy spectra by spherical-harmonic degree, temporal spectra at grid
points, and relative-vorticity snapshots of the first frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

COLORS = {
    "truth": "black",
    "bilinear": "#8c8c8c",
    "bicubic": "#b07aa1",
    "mean model": "#4c72b0",
    "TAUDiff": "#dd8452",
    "baseline": "#55a868",
}


def _spectra(report: dict, key: str, x, xlabel: str, ylabel: str, title: str, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, m in report["methods"].items():
        y = np.asarray(m[key])
        ax.loglog(x[1:], y[1:], label=name, color=COLORS.get(name), lw=2 if name == "truth" else 1.4)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _vorticity(report: dict, fields: dict, path: Path) -> Path:
    import matplotlib.pyplot as plt

    from climviz.diagnostics.vorticity import relative_vorticity

    names = [n for n in ("truth", "bicubic", "mean model", "TAUDiff", "baseline") if n in fields]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 1.9), squeeze=False)
    fig.subplots_adjust(top=0.84)  # room for the title above the panel titles
    zs = []
    for n in names:
        u, v = fields[n]
        if "sample" in u.dims:
            u, v = u.isel(sample=0), v.isel(sample=0)
        zs.append(relative_vorticity(u.isel(time=0), v.isel(time=0)) * 1e5)
    lim = float(np.percentile(np.abs(zs[0].values), 99))
    for ax, n, z in zip(axes[0], names, zs):
        im = ax.pcolormesh(z["lon"], z["lat"], z.values, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="auto")
        ax.set_title(n if n in ("truth", "bicubic", "mean model") else f"{n} (sample 1)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect(1.0)  # degrees: a global map is twice as wide as tall
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="vorticity (1e-5 s-1)")
    fig.suptitle(
        f"Relative vorticity, {report['heldout_start'][:16]} (held out; synthetic wind)", fontsize=10, y=0.98
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def write_figures(report: dict, fields: dict, directory) -> list[Path]:
    """Write ``ke_spectra.png``, ``temporal_spectra.png`` and ``vorticity.png`` into ``directory``."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    deg = np.asarray(report["ke_degree"])
    freq = np.asarray(report["temporal_frequency_per_day"])
    return [
        _spectra(
            report,
            "ke_spectrum",
            deg,
            "spherical-harmonic degree l",
            "kinetic energy (m2 s-2)",
            "Kinetic-energy spectra, held-out frames",
            out / "ke_spectra.png",
        ),
        _spectra(
            report,
            "temporal_spectrum_u",
            freq,
            "frequency (cycles per day)",
            "power of u (m2 s-2 day)",
            "Temporal spectra of u at grid points",
            out / "temporal_spectra.png",
        ),
        _vorticity(report, fields, out / "vorticity.png"),
    ]
