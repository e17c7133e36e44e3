"""Execute every notebook in notebooks/ with its default parameters (the shipped models) and print wall times.

    .venv/bin/python tools/run_notebooks.py [--out DIR]

The stored notebooks stay without outputs; ``--out`` writes executed copies there to read.
Exits 1 if a notebook fails. (The test suite runs them at a tiny setting: tests/test_notebooks.py.)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbclient
import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="folder for the executed copies")
    args = ap.parse_args()
    failed = 0
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        t = time.perf_counter()
        try:
            nbclient.NotebookClient(
                nb, kernel_name="python3", timeout=1800, resources={"metadata": {"path": str(NOTEBOOKS)}}
            ).execute()
            outcome = "ok"
        except Exception as err:  # report and go on with the next notebook
            failed += 1
            outcome = f"FAILED: {type(err).__name__}: {str(err).strip().splitlines()[-1]}"
        print(f"{path.name}: {time.perf_counter() - t:.0f} s, {outcome}", flush=True)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, Path(args.out) / path.name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
