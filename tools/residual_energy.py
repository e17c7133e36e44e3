"""How much of the truth the TAUDiff mean model leaves to the residual stage, on seen and unseen time.

    .venv/bin/python tools/residual_energy.py --data data/wind64-3y.nc --model-dir models/taudiff \
        [--val-days 100 --test-days 200] [--folds-dir runs/taudiff-folds --crossfit 2]

Prints, by band of spherical-harmonic degree, the kinetic energy of
``fine - mean`` as a fraction of the truth's: on the training period (which the
mean model was fitted to), on the held-out period, and (with ``--folds-dir``)
on the training period from out-of-fold predictions, which is what
``climviz train taudiff --crossfit K`` trains the residual stage on. Then the
area-weighted residual std per component, the scale the residual stage learns.
A residual stage can only learn the residual it is shown: if the training
column is far below the held-out one, the mean model memorised its training
period and the samples will lack energy at those degrees.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from climviz.diagnostics.spectra import ke_spectrum
from climviz.nn import checkpoint as ckpt
from climviz.pipelines import downscale_training as dt
from climviz.train.taudiff import residual_std

BANDS = [(1, 10), (11, 14), (15, 23), (24, 32), (33, 42)]


def _ke(a: np.ndarray, lat, lon) -> np.ndarray:
    def field(c):
        return xr.DataArray(a[:, c], dims=("time", "lat", "lon"), coords={"lat": lat, "lon": lon})

    return ke_spectrum(field(0), field(1)).mean("time").values


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/wind64.nc")
    ap.add_argument("--model-dir", default="models/taudiff", help="holds mean/ (the mean model)")
    ap.add_argument("--folds-dir", default=None, help="fold mean models from `--stage folds`")
    ap.add_argument("--crossfit", type=int, default=2, help="number of folds in --folds-dir")
    ap.add_argument("--holdout", type=float, default=0.2, help="test fraction without --test-days")
    ap.add_argument("--val-days", type=float, default=None, help="validation days before the test period")
    ap.add_argument("--test-days", type=float, default=None, help="test period: the last D days")
    args = ap.parse_args()
    torch.set_num_threads(1)

    cfg = ckpt.load_config(Path(args.model_dir) / "mean")
    norm, grid = cfg["normalization"], cfg["grid"]
    fine_ds, coarse_ds = dt.make_pairs(dt.open_winds(args.data).load(), cfg.get("coarsen_factor", 4))
    periods = dt.split_periods(
        fine_ds.sizes["time"],
        step_hours=dt.step_hours(fine_ds["time"]),
        val_days=args.val_days,
        test_days=args.test_days,
        holdout=args.holdout,
    )
    train, test = periods.train, periods.test
    fine, coarse = dt._arrays(fine_ds), dt._arrays(coarse_ds)
    lat, lon = fine_ds["lat"].values, fine_ds["lon"].values
    mean = dt.mean_predictions(Path(args.model_dir) / "mean", coarse, norm, grid, "cpu")
    cases = {"train (in-sample)": (fine - mean)[train], "held out": (fine - mean)[test]}
    if args.folds_dir:
        n = coarse[train].shape[0]
        blocks = dt.crossfit_blocks(n, args.crossfit, cfg["simvp"]["frames"])
        infos = [dt.fold_info(fine_ds, train, blocks, i) for i in range(args.crossfit)]
        oof = dt.out_of_fold_means(args.folds_dir, coarse[train], norm, grid, "cpu", infos, blocks)
        cases["train (out-of-fold)"] = fine[train] - oof
    truth = {"train (in-sample)": _ke(fine[train], lat, lon), "held out": _ke(fine[test], lat, lon)}
    truth["train (out-of-fold)"] = truth["train (in-sample)"]
    spectra = {k: _ke(v, lat, lon) for k, v in cases.items()}

    print(f"residual KE / truth KE by degree band ({args.data}, mean model {args.model_dir}/mean)")
    print("| degrees | " + " | ".join(cases) + " |")
    print("|---" * (len(cases) + 1) + "|")
    for lo, hi in BANDS:
        cells = [f"{spectra[k][lo : hi + 1].sum() / truth[k][lo : hi + 1].sum():.3f}" for k in cases]
        print(f"| {lo}-{hi} | " + " | ".join(cells) + " |")
    stds = {k: residual_std(v, lat) for k, v in cases.items()}
    print(
        "| residual std u, v (m/s) | " + " | ".join(f"{s[0]:.2f}, {s[1]:.2f}" for s in stds.values()) + " |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
