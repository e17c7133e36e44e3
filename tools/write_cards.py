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
    "taudiff-mean": "TAUDiff mean model: SimVP with Temporal Attention Units, coarse u/v frames -> fine mean u/v frames.",
    "taudiff-residual": "TAUDiff residual diffusion: CAU-UNet (channel attention), v-prediction on (fine - mean), "
    "conditioned on the mean and the interpolated coarse input.",
    "taudiff-baseline": "End-to-end diffusion baseline: CAU-UNet on the whole fine u/v field, conditioned on the "
    "interpolated coarse input only.",
}
LDM_ARCHITECTURES = {
    "tunet": "Residual latent diffusion model (tunet: 1-D U-Net of temporal convolutions over monthly latent "
    "frames plus a per-pixel path; no calendar year), v-prediction, cosine schedule.",
    "spacetime": "Residual latent diffusion model (spacetime: patch tokens, temporal and spatial attention), "
    "v-prediction, cosine schedule.",
    "temporal": DESCRIPTIONS["ldm"],
}
TAUDIFF_SCORES = {"taudiff-mean": "mean model", "taudiff-residual": "TAUDiff", "taudiff-baseline": "baseline"}


def _fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def card(directory: Path, scores: dict | None, retrain: str | None, note: str | None = None) -> str:
    cfg = json.loads((directory / "config.json").read_text())
    kind = cfg["kind"]
    title = f"{directory.parent.name}/{directory.name}"
    desc = DESCRIPTIONS.get(kind, kind)
    if kind == "ldm":
        desc = LDM_ARCHITECTURES.get(cfg["denoiser"].get("architecture", "temporal"), desc)
    lines = [f"# {title}", "", desc, ""]
    if note:
        lines += [f"**Note.** {note}", ""]
    if kind == "vae" and cfg.get("decoder_only"):
        v = cfg["vae"]
        lines += [
            f"Encoder widths {v['channels']}; decoder widths {v['decoder_channels']}. The decoder was trained "
            f"alone (`climviz train vae --decoder-for`) for the frozen encoder of `{cfg['encoder_from']}`, "
            "so the latents, and the diffusion models trained on them, are unchanged.",
            "",
        ]
    if kind == "ldm":
        lines += [
            f"Sequence mode: **{cfg['mode']}**; window {cfg['denoiser']['window']} months; "
            f"{cfg['schedule']['num_train_steps']} diffusion training steps.",
            "",
        ]
    if kind.startswith("taudiff"):
        g = cfg["grid"]
        lines += [
            f"Coarse {len(g['coarse_lat'])}x{len(g['coarse_lon'])} -> fine {len(g['fine_lat'])}x"
            f"{len(g['fine_lon'])} (factor {cfg.get('coarsen_factor')}); coarse inputs by "
            f"{cfg.get('coarsen')}.",
            "",
        ]
        where = [f"| training period | {cfg.get('train_period')} |"]
        if cfg.get("val_period"):
            where.append(f"| validation period (early stopping) | {cfg['val_period']} |")
        where.append(f"| held out | {cfg.get('heldout_period')} |")
    else:
        where = [f"| members used | {cfg.get('train_members')} |", f"| period | {cfg.get('period')} |"]
    planned = cfg.get("settings", {}).get("steps")
    val = cfg.get("validation")
    if val:
        last = val["history"][-1][0] if val["history"] else None
        stopped = (
            f" of a {planned}-step schedule: the best of {len(val['history'])} validation losses "
            f"(every {val['every']} steps to step {last}; "
            + ("stopped early on the validation loss)" if val["stopped_early"] else "no early stop)")
        )
    else:
        stopped = (
            f" of a {planned}-step learning-rate schedule (stopped early: CPU time)"
            if planned and planned != cfg.get("trained_steps")
            else ""
        )
    lines += [
        "| | |",
        "|---|---|",
        f"| training data | `{cfg.get('data')}` (synthetic: {cfg.get('data_synthetic')}) |",
        *where,
        f"| optimiser steps | {cfg.get('trained_steps')}{stopped} (batch {cfg.get('settings', {}).get('batch_size')}) |",
        f"| wall time | {cfg.get('wall_time_s')} s |",
        f"| hardware | {cfg.get('hardware')} |",
    ]
    if "residual_targets" in cfg:
        lines.append(f"| residual targets | {cfg['residual_targets']} |")
    if scores and kind in TAUDIFF_SCORES:
        m = scores["methods"][TAUDIFF_SCORES[kind]] if TAUDIFF_SCORES[kind] in scores["methods"] else None
        if m is not None:
            lines += [
                f"| KE spectrum ratio in [0.8, 1.25], degrees {m['ke_ratio']['degrees']} | "
                f"{m['ke_ratio']['fraction_in_band']:.0%} |",
                f"| vortex count / truth | {_fmt(m['vortex_ratio'])} |",
                f"| RMSE of the (sample) mean, vector wind | {_fmt(m['rmse_vector'])} m/s |",
            ]
            tr = m.get("temporal_spectrum_ratio_u")
            if tr:
                lines.append(
                    f"| temporal spectrum ratio of u in [0.67, 1.5] | {tr['fraction_in_band']:.0%} of frequencies "
                    f"({_fmt(tr['min_ratio'])}-{_fmt(tr['max_ratio'])}) |"
                )
            if "flicker_ratio_u" in m:
                lines.append(
                    f"| flicker (6-hourly change) u, v / truth | {_fmt(m['flicker_ratio_u'])}, "
                    f"{_fmt(m['flicker_ratio_v'])} |"
                )
            if "crps_u" in m:
                lines.append(f"| CRPS of u | {_fmt(m['crps_u'])} m/s |")
            t = scores.get("timings", {}).get(TAUDIFF_SCORES[kind], {})
            how = f", {t['steps']} steps ({t.get('sampler', 'ddim')})" if "steps" in t else ""
            lines.append(
                f"| evaluation | {scores['frames']} held-out frames from {scores['heldout_start'][:16]}, "
                f"{scores['n_samples']} samples{how} (`climviz evaluate downscale`) |"
            )
    elif scores:
        if kind == "vae":
            lines += [
                f"| held-out RMSE, global | {_fmt(scores['vae_rmse_global_K'])} K |",
                f"| held-out RMSE, Nino3.4 | {_fmt(scores['vae_rmse_nino34_K'])} K |",
            ]
        elif cfg.get("mode") in scores.get("modes", {}):
            m = scores["modes"][cfg["mode"]]
            for key in (
                "spread_ratio",
                "crps_over_ideal",
                "nino34_std_ratio",
                "nino34_band_ratio_2-4yr",
                "nino34_band_ratio_4-8yr",
                "enso_eof_pattern_correlation",
                "pinatubo_composite_abs_diff_K",
            ):
                lines.append(f"| {key} | {_fmt(m[key])} |")
            lines.append(
                f"| Nino3.4 lag-1 autocorrelation, generated / true | "
                f"{_fmt(m['nino34_lag1_autocorr_generated'])} / {_fmt(m['nino34_lag1_autocorr_true'])} |"
            )
        lines.append(
            f"| evaluation | conditioned on member {scores['cond_member']}, scored against held-out "
            f"members {scores['truth_members']}, {scores['period'][0]} .. {scores['period'][1]}, "
            f"{scores['n_members']} members, {scores['steps']} {scores['sampler']} steps |"
        )
    stats = {"vae": ", normalisation statistics", "ldm": ", latent statistics"}.get(
        kind, ", normalisation, grid"
    )
    lines += [
        "",
        f"Files: `model.safetensors` (weights), `config.json` (hyper-parameters{stats}, provenance).",
    ]
    if retrain:
        lines += ["", "Retrain (on a GPU for full resolution, see the README):", "", f"    {retrain}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "root",
        help="model directory holding checkpoint subdirectories (models/ensemble, "
        "models/taudiff) or one checkpoint (models/taudiff-baseline)",
    )
    ap.add_argument("--scores", default=None)
    ap.add_argument("--retrain", action="append", default=[], help="NAME=COMMAND per subdirectory")
    ap.add_argument(
        "--note", action="append", default=[], help="NAME=TEXT per subdirectory: a limit to state"
    )
    args = ap.parse_args()
    scores = json.loads(Path(args.scores).read_text()) if args.scores else None
    retrain = dict(r.split("=", 1) for r in args.retrain)
    notes = dict(r.split("=", 1) for r in args.note)
    root = Path(args.root)
    subs = [root] if (root / "config.json").exists() else sorted(root.iterdir())
    for sub in subs:
        if (sub / "config.json").exists():
            (sub / "CARD.md").write_text(card(sub, scores, retrain.get(sub.name), notes.get(sub.name)))
            print(sub / "CARD.md")


if __name__ == "__main__":
    main()
