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
"""

from __future__ import annotations

import argparse

import numpy as np

from climviz.data.loader import open_ensemble
from climviz.diagnostics.enso import nino34_anomalies
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
    gen = EnsembleGenerator.from_checkpoint(args.model_dir, device="cpu").generate(
        cond, GenerationRequest(n_members=args.members, mode=args.mode, seed=args.seed)
    )
    nc = nino34_anomalies(cond)
    rows = {
        f"generated ({args.members})": change_figures(nc, nino34_anomalies(gen)),
        f"true {args.truth_members}": change_figures(nc, nino34_anomalies(tas.sel(member=truth_members))),
    }
    print(f"conditioning run {args.cond_member}: change variance {float(nc.diff('time').var()):.4f} K^2")
    names = list(next(iter(rows.values())))
    print("| | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for n in names:
        print(f"| {n} | " + " | ".join(f"{r[n]:.3f}" for r in rows.values()) + " |")


if __name__ == "__main__":
    main()
