"""Training data read from a lazy (Dask) ensemble a batch at a time, never whole.

The loader opens files lazily (:func:`climviz.data.loader.open_ensemble`);
these helpers keep it that way through training:

- :func:`fit_normalizer`: the per-month statistics in one streaming pass;
- :class:`FrameSource`: the normalised frames of a batch, reading only the
  chunks that hold them (what :func:`climviz.train.vae.train_vae` indexes);
- :func:`read_member`: one member, for encoding member by member.

Each takes ``values [M, T, H, W]`` as a NumPy or Dask array, or a DataArray
of either; in-memory arrays give exactly what the in-memory code gives.
"""

from __future__ import annotations

import os

import dask
import dask.array as da
import numpy as np

from climviz.data.normalize import MonthlyNormalizer


def _array(values):
    """The NumPy or Dask array inside ``values`` (a DataArray or an array)."""
    return values if isinstance(values, (np.ndarray, da.Array)) else values.data


def is_lazy(values) -> bool:
    """True when ``values`` is (backed by) a Dask array."""
    return isinstance(_array(values), da.Array)


def fit_normalizer(
    values, months, *, min_std: float = 1e-3, chunks_at_once: int | None = None
) -> MonthlyNormalizer:
    """:meth:`MonthlyNormalizer.fit` of ``values [M, T, H, W]`` (K), ``months [T]`` in 1..12.

    A lazy array is reduced chunk by chunk, ``chunks_at_once`` (default: one
    per CPU) in parallel: float64 sums per calendar month of ``x - x[0, 0]``
    and of its square. Memory holds those chunks and the sums, never the
    ensemble; the shift by one frame keeps the sums of squares small, so the
    variance loses no precision.
    """
    arr = _array(values)
    if not isinstance(arr, da.Array):
        return MonthlyNormalizer.fit(np.asarray(arr), months, min_std=min_std)
    months = MonthlyNormalizer.check_months(months)
    onehot = (months[:, None] == np.arange(1, 13)[None]).astype(np.float64)  # [T, 12]
    shift = np.asarray(arr[0, 0], np.float64)  # [H, W]
    edges = [np.cumsum((0, *c)) for c in arr.chunks]
    parts = []  # (lat, lon) slices, sums
    for (_, j, k, m), chunk in np.ndenumerate(arr.to_delayed()):
        where = slice(edges[2][k], edges[2][k + 1]), slice(edges[3][m], edges[3][m + 1])
        sums = dask.delayed(_month_sums)(chunk, onehot[edges[1][j] : edges[1][j + 1]], shift[where])
        parts.append((where, sums))
    s1 = np.zeros((12, *arr.shape[2:]))
    s2 = np.zeros_like(s1)
    group = chunks_at_once or os.cpu_count() or 1
    for i in range(0, len(parts), group):
        done = dask.compute(*(sums for _, sums in parts[i : i + group]))
        for ((lat, lon), _), (a, b) in zip(parts[i : i + group], done):
            s1[:, lat, lon] += a
            s2[:, lat, lon] += b
    count = (arr.shape[0] * onehot.sum(axis=0))[:, None, None]  # values per month
    mean = s1 / count
    var = np.maximum(s2 / count - mean**2, 0.0)
    return MonthlyNormalizer.from_moments(shift + mean, np.sqrt(var), min_std=min_std)


def _month_sums(chunk: np.ndarray, onehot: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums over member and time, per month, of ``d = chunk - shift`` and ``d**2`` -> two ``[12, h, w]``."""
    d = chunk.astype(np.float64) - shift
    return (
        np.tensordot(onehot, d.sum(axis=0), axes=(0, 0)),
        np.tensordot(onehot, (d * d).sum(axis=0), axes=(0, 0)),
    )


def read_frames(values, member: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Frames ``values[member[i], time[i]]`` -> ``[B, H, W]`` float32 (only their chunks are read)."""
    arr = _array(values)
    member, time = np.asarray(member, np.intp), np.asarray(time, np.intp)
    if isinstance(arr, da.Array):
        return np.asarray(arr.vindex[member, time].compute(), np.float32)
    return np.asarray(arr[member, time], np.float32)


def read_member(values, member: int) -> np.ndarray:
    """All frames of one member -> ``[T, H, W]`` float32."""
    return np.asarray(_array(values)[member], np.float32)


class FrameSource:
    """The normalised frames ``[M * T, H, W]`` of an ensemble, read a batch at a time.

    Frame ``n`` is member ``n // T`` at time ``n % T`` (the order of
    ``values.reshape(-1, H, W)``). ``source[idx]`` with an integer array reads
    those frames (from disk when ``values`` is lazy) and normalises them with
    ``normalizer`` for their calendar ``months [T]`` (1..12).
    """

    def __init__(self, values, months, normalizer: MonthlyNormalizer):
        self.values = _array(values)
        if self.values.ndim != 4:
            raise ValueError(f"need values [member, time, lat, lon], got shape {self.values.shape}")
        m, t, h, w = self.values.shape
        self.months = np.asarray(months)
        if self.months.shape != (t,):
            raise ValueError(f"need one month per time step ({t}), got {self.months.shape}")
        self.normalizer = normalizer
        self.shape = (m * t, h, w)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, idx) -> np.ndarray:
        idx = np.asarray(idx, np.intp)
        if idx.ndim != 1:
            raise IndexError("index a FrameSource with a 1-d integer array")
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"frame index out of range 0..{len(self) - 1}")
        member, time = np.divmod(idx, self.values.shape[1])
        return self.normalizer.normalize(read_frames(self.values, member, time), self.months[time])
