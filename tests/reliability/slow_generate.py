"""``climviz generate`` whose output is written slowly, for the kill-while-writing tests.

    python slow_generate.py MARKER climviz-generate-arguments...

The generated ensemble is handed to the writer as a Dask array in 12-month
chunks (computed one at a time); the second chunk touches ``MARKER`` and then
sleeps, so the writer has begun the file (its first chunk is written) when the
test sends its signal.
"""

import sys
import time
from pathlib import Path

import dask
import dask.array as dsa

import climviz.pipelines.ensemble as ensemble
from climviz.cli import main

MARKER = Path(sys.argv[1])
_generate = ensemble.EnsembleGenerator.generate


def _stall(block, block_info=None):
    if block_info[None]["chunk-location"][1] == 1:
        MARKER.write_text("writing")
        time.sleep(300)
    return block


def slow_generate(self, *args, **kwargs):
    out = _generate(self, *args, **kwargs)
    data = dsa.from_array(out.values, chunks=(-1, 12, -1, -1)).map_blocks(_stall, dtype=out.dtype)
    return out.copy(data=data)


ensemble.EnsembleGenerator.generate = slow_generate
dask.config.set(scheduler="synchronous")  # chunks computed in the main thread, where signals land
sys.exit(main(sys.argv[2:]))
