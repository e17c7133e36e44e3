"""Where a generated ensemble's Nino3.4 persistence goes: month-to-month changes against the truth's.

    .venv/bin/python tools/nino34_changes.py --data data/toy48.nc --model-dir models/ensemble \
        [--cond-member 25 --truth-members 26-29 --start 1950 --end 2005 --members 10 --mode transformer]

Generates members conditioned on ``--cond-member`` (default sampler and steps)
and prints, for the generated and the true members' Nino3.4 anomalies (each
member's monthly climatology and linear trend removed):

- the variance of the month-to-month change, ``x(t+1) - x(t)``, pooled over members;
- the mean correlation of each member with the conditioning run, of the
  anomalies and of their changes (a new member should carry none of the
  conditioning run's internal variability: about 0);
- the regression slope of the residual's changes (member minus conditioning
  run) on minus the conditioning run's changes: 1 when the conditioning run's
  own changes are removed exactly.

Too low a lag-1 autocorrelation with the right total variance means too much
variance in the changes; these figures say whether it is the conditioning run's
left in or fresh noise drawn too large.

A second table says where on the map the changes are too large: the
month-to-month change variance at each grid point, generated over true, averaged
(cos-latitude) over the globe, over latitude bands and over the Nino3.4 box.
A third says the same per channel of the latents the generated members are
decoded from, against the true members' encoded latents.
"""

from __future__ import annotations

import argparse

import numpy as np

from climviz.data.loader import open_ensemble
from climviz.data.regions import REGIONS
from climviz.data.regrid import regrid
from climviz.diagnostics.enso import nino34_anomalies
from climviz.diagnostics.means import area_mean
from climviz.pipelines.ensemble import EnsembleGenerator
from climviz.pipelines.ensemble_training import parse_members
from climviz.requests import GenerationRequest


def change_figures(cond, members) -> dict:
    """``cond [T]`` and ``members [member, T]`` Nino3.4 anomalies (DataArrays) -> the figures above."""
    dc, dm = cond.diff("time"), members.diff("time")
    corr = [float(np.corrcoef(cond.values, m.values)[0, 1]) for m in members]
    corr_d = [float(np.corrcoef(dc.values, m.values)[0, 1]) for m in dm]
    resid = (dm - dc).mean("member")
    return {
        "change variance (K^2)": float(dm.var()),
        "corr with conditioning run": float(np.mean(corr)),
        "corr of changes with conditioning run's": float(np.mean(corr_d)),
        "slope of residual changes on -conditioning changes": float((resid * -dc).sum() / (dc * dc).sum()),
    }


BANDS = {
    "globe": (-90, 90),
    "90S-30S": (-90, -30),
    "30S-10S": (-30, -10),
    "10S-10N": (-10, 10),
    "10N-30N": (10, 30),
    "30N-90N": (30, 90),
}


def change_variance_ratios(generated, truth) -> dict:
    """``(member, time, lat, lon)`` fields -> generated / true month-to-month change variance
    (pooled over members and time), as ratios of area means over :data:`BANDS` and the Nino3.4 box."""
    g, t = (x.diff("time").var(("member", "time")) for x in (generated, truth))
    out = {}
    for name, (lo, hi) in BANDS.items():
        band = {"lat": (g["lat"] >= lo) & (g["lat"] <= hi)}
        out[name] = float(area_mean(g.isel(band)) / area_mean(t.isel(band)))
    box = REGIONS["Nino3.4"]
    out["Nino3.4 box"] = float(area_mean(g, box) / area_mean(t, box))
    return out


def latent_change_ratios(z_generated, z_true, cells=None) -> list[float]:
    """``[member, time, channel, h, w]`` latents -> per channel, generated / true variance of the
    month-to-month changes (pooled over members, time and cells), and last, over the ``cells``
    (``[h, w]`` bool) only, channels pooled."""
    dg, dt = (np.diff(np.asarray(z, np.float64), axis=1) for z in (z_generated, z_true))
    out = list(dg.var(axis=(0, 1, 3, 4)) / dt.var(axis=(0, 1, 3, 4)))
    if cells is not None:
        out.append(float(dg.var(axis=(0, 1))[:, cells].sum() / dt.var(axis=(0, 1))[:, cells].sum()))
    return out


def latent_cells(region_mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Grid mask ``[nlat, nlon]`` -> the ``shape`` latent cells (blocks of the grid) holding any of it."""
    h, w = shape
    f_lat, f_lon = region_mask.shape[0] // h, region_mask.shape[1] // w
    return region_mask.reshape(h, f_lat, w, f_lon).any(axis=(1, 3))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model-dir", default="models/ensemble")
    ap.add_argument("--cond-member", type=int, default=25)
    ap.add_argument("--truth-members", default="26-29")
    ap.add_argument("--start", default="1950")
    ap.add_argument("--end", default="2005")
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--mode", default="transformer")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    truth_members = parse_members(args.truth_members)
    tas = (
        open_ensemble(args.data, member=[args.cond_member, *truth_members])
        .sel(time=slice(args.start, args.end))
        .load()
    )
    cond = tas.sel(member=args.cond_member)
    generator = EnsembleGenerator.from_checkpoint(args.model_dir, device="cpu")
    request = GenerationRequest(n_members=args.members, mode=args.mode, seed=args.seed)
    checked, months, z_gen = generator.sample_latents(cond, request)
    gen = generator.members_from_latents(checked, months, z_gen, request)
    truth = regrid(tas.sel(member=truth_members), generator.lat, generator.lon)
    truth = truth.transpose("member", "time", "lat", "lon")
    z_true = np.stack([generator.encode_fields(m.values, months).numpy() for m in truth])
    nc = nino34_anomalies(cond)
    rows = {
        f"generated ({args.members})": change_figures(nc, nino34_anomalies(gen)),
        f"true {args.truth_members}": change_figures(nc, nino34_anomalies(truth)),
    }
    print(f"conditioning run {args.cond_member}: change variance {float(nc.diff('time').var()):.4f} K^2")
    names = list(next(iter(rows.values())))
    print("| | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for n in names:
        print(f"| {n} | " + " | ".join(f"{r[n]:.3f}" for r in rows.values()) + " |")
    ratios = change_variance_ratios(gen, truth)
    print("\nmonth-to-month change variance at each grid point, generated / true, area means:")
    print("| " + " | ".join(ratios) + " |")
    print("|---" * len(ratios) + "|")
    print("| " + " | ".join(f"{v:.2f}" for v in ratios.values()) + " |")
    grid_box = REGIONS["Nino3.4"].mask(np.asarray(generator.lat), np.asarray(generator.lon))
    cells = latent_cells(grid_box, tuple(z_gen.shape[-2:]))
    latent = latent_change_ratios(z_gen.numpy(), z_true, cells)
    print("\nthe same in the latents, per channel, and at the latent cells over the Nino3.4 box:")
    names = [f"channel {c}" for c in range(len(latent) - 1)] + [f"{int(cells.sum())} Nino3.4 cells"]
    print("| " + " | ".join(names) + " |")
    print("|---" * len(latent) + "|")
    print("| " + " | ".join(f"{v:.2f}" for v in latent) + " |")


if __name__ == "__main__":
    main()
