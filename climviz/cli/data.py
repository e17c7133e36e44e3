"""``climviz data toy-ensemble`` and ``climviz data toy-wind``: the embedded synthetic data sets."""

from __future__ import annotations

import argparse

from climviz.cli.commands import Commands
from climviz.cli.progress import progress_printer


def _data_toy_ensemble(args: argparse.Namespace) -> int:
    from climviz.data.grid import parse_grid
    from climviz.data.toy_ensemble_io import write_toy_ensemble

    write_toy_ensemble(
        args.output,
        members=args.members,
        start=args.start,
        end=args.end,
        grid=parse_grid(args.grid),
        seed=args.seed,
        progress=progress_printer("members written"),
    )
    print(args.output)
    return 0


def _data_toy_wind(args: argparse.Namespace) -> int:
    from climviz.data.grid import parse_grid
    from climviz.data.toy_wind_io import write_toy_wind

    write_toy_wind(
        args.output,
        grid=parse_grid(args.grid),
        days=args.days,
        seed=args.seed,
        interval_hours=args.interval_hours,
        progress=progress_printer("days simulated"),
        resume=not args.restart,
    )
    print(args.output)
    return 0


def register(commands: Commands) -> None:
    """Add ``data`` with its data sets ``toy-ensemble`` and ``toy-wind`` to ``commands.top``."""
    data = commands.top.add_parser("data", help="make the embedded synthetic data sets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="DATASET")

    p = data_sub.add_parser(
        "toy-ensemble",
        help="synthetic grand ensemble of monthly surface temperature (tas, K)",
        description="Write a synthetic, physically motivated grand ensemble of monthly "
        "near-surface temperature as CF NetCDF (.nc) or Zarr (.zarr). The data is synthetic.",
    )
    p.add_argument("-o", "--output", required=True, help="output path (.nc or .zarr)")
    p.add_argument("--members", type=int, default=30, help="number of members (default 30)")
    p.add_argument("--start", type=int, default=1850, help="first year (default 1850)")
    p.add_argument("--end", type=int, default=2005, help="last year, inclusive (default 2005)")
    p.add_argument("--grid", default="96x192", help="NLATxNLON Gaussian grid (default 96x192)")
    p.add_argument("--seed", type=int, default=0, help="ensemble seed (default 0)")
    p.set_defaults(handler=_data_toy_ensemble)

    p = data_sub.add_parser(
        "toy-wind",
        help="synthetic global u/v wind from a spherical shallow-water model",
        description="Write global u, v and relative vorticity from the torch-harmonics "
        "shallow-water solver as CF NetCDF (.nc) or Zarr (.zarr). The data is synthetic. Each "
        "simulated day is appended as it is made; an interrupted run continues from its last "
        "day when run again with the same options.",
    )
    p.add_argument("-o", "--output", required=True, help="output path (.nc or .zarr)")
    p.add_argument("--grid", default="128x256", help="NLATxNLON (default 128x256)")
    p.add_argument("--days", type=float, default=30.0, help="simulated days after spin-up")
    p.add_argument("--interval-hours", type=float, default=6.0, help="output interval (hours)")
    p.add_argument("--seed", type=int, default=0, help="seed for the initial condition")
    p.add_argument(
        "--restart", action="store_true", help="discard an interrupted run of this output and start afresh"
    )
    p.set_defaults(handler=_data_toy_wind)
