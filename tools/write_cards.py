"""Write CARD.md beside each shipped checkpoint from its config.json and the evaluation JSON.

    python tools/write_cards.py models/ensemble --scores eval/ensemble/ensemble_scores.json \
        --retrain "climviz train vae --data data/toy48.nc ..."

The card states data (and that it is synthetic), members used and held out,
steps, wall time, hardware and the evaluation metrics, all read from files
written by the training and evaluation commands.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DESCRIPTIONS = {
    "vae": "Convolutional VAE with spherical padding: 48x96 monthly temperature anomaly -> 4x12x24 latent.",
    "ldm": "Residual latent diffusion model (time-attention over monthly latent tokens), v-prediction, cosine schedule.",
}


def _fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def card(directory: Path, scores: dict | None, retrain: str | None) -> str:
    cfg = json.loads((directory / "config.json").read_text())
    kind = cfg["kind"]
    title = f"{directory.parent.name}/{directory.name}"
    lines = [f"# {title}", "", DESCRIPTIONS.get(kind, kind), ""]
    if kind == "ldm":
        lines += [f"Sequence mode: **{cfg['mode']}**; window {cfg['denoiser']['window']} months; "
                  f"{cfg['schedule']['num_train_steps']} diffusion training steps.", ""]
    lines += [
        "| | |", "|---|---|",
        f"| training data | `{cfg.get('data')}` (synthetic: {cfg.get('data_synthetic')}) |",
        f"| members used | {cfg.get('train_members')} |",
        f"| period | {cfg.get('period')} |",
        f"| optimiser steps | {cfg.get('trained_steps')} (batch {cfg.get('settings', {}).get('batch_size')}) |",
        f"| wall time | {cfg.get('wall_time_s')} s |",
        f"| hardware | {cfg.get('hardware')} |",
    ]
    if scores:
        if kind == "vae":
            lines += [f"| held-out RMSE, global | {_fmt(scores['vae_rmse_global_K'])} K |",
                      f"| held-out RMSE, Nino3.4 | {_fmt(scores['vae_rmse_nino34_K'])} K |"]
        elif cfg.get("mode") in scores.get("modes", {}):
            m = scores["modes"][cfg["mode"]]
            for key in ("spread_ratio", "crps_over_ideal", "nino34_std_ratio", "enso_eof_pattern_correlation",
                        "pinatubo_composite_abs_diff_K"):
                lines.append(f"| {key} | {_fmt(m[key])} |")
        lines.append(f"| evaluation | conditioned on member {scores['cond_member']}, scored against held-out "
                     f"members {scores['truth_members']}, {scores['period'][0]} .. {scores['period'][1]}, "
                     f"{scores['n_members']} members, {scores['steps']} {scores['sampler']} steps |")
    lines += ["", "Files: `model.safetensors` (weights), `config.json` (hyper-parameters"
              + (", normalisation statistics" if kind == "vae" else ", latent statistics") + ", provenance)."]
    if retrain:
        lines += ["", "Retrain (on a GPU for full resolution, see the README):", "", f"    {retrain}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", help="generator directory, e.g. models/ensemble")
    ap.add_argument("--scores", default=None)
    ap.add_argument("--retrain", action="append", default=[], help="NAME=COMMAND per subdirectory")
    args = ap.parse_args()
    scores = json.loads(Path(args.scores).read_text()) if args.scores else None
    retrain = dict(r.split("=", 1) for r in args.retrain)
    for sub in sorted(Path(args.root).iterdir()):
        if (sub / "config.json").exists():
            (sub / "CARD.md").write_text(card(sub, scores, retrain.get(sub.name)))
            print(sub / "CARD.md")


if __name__ == "__main__":
    main()
