"""Per-grid-point, per-calendar-month normalisation of monthly fields (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MonthlyNormalizer:
    """``x_norm = (x - mean[month]) / std[month]``; ``mean``, ``std`` are ``[12, H, W]``."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, data: np.ndarray, months: np.ndarray, *, min_std: float = 1e-3) -> MonthlyNormalizer:
        """Statistics of ``data [M, T, H, W]`` (K) with calendar ``months [T]`` in 1..12.

        For data too large for memory see :func:`climviz.train.streaming.fit_normalizer`.
        """
        months = cls.check_months(months)
        h, w = data.shape[-2:]
        mean = np.empty((12, h, w), np.float64)
        std = np.empty((12, h, w), np.float64)
        for m in range(12):
            sel = data[:, months == m + 1].astype(np.float64)
            mean[m] = sel.mean(axis=(0, 1))
            std[m] = sel.std(axis=(0, 1))
        return cls.from_moments(mean, std, min_std=min_std)

    @staticmethod
    def check_months(months) -> np.ndarray:
        """``months [T]`` as an array; every calendar month must occur."""
        months = np.asarray(months)
        if set(np.unique(months)) != set(range(1, 13)):
            raise ValueError("fitting a monthly normaliser needs every calendar month in the data")
        return months

    @classmethod
    def from_moments(cls, mean: np.ndarray, std: np.ndarray, *, min_std: float = 1e-3) -> MonthlyNormalizer:
        """From per-month ``mean`` and ``std`` ``[12, H, W]`` (any float type); ``std`` floored at ``min_std``."""
        return cls(np.asarray(mean).astype(np.float32), np.maximum(std, min_std).astype(np.float32))

    def _check(self, x: np.ndarray) -> None:
        if x.shape[-2:] != self.mean.shape[-2:]:
            raise ValueError(
                f"grid {tuple(x.shape[-2:])} does not match the model's grid {tuple(self.mean.shape[-2:])}"
            )

    def normalize(self, x: np.ndarray, months: np.ndarray) -> np.ndarray:
        """``x [..., T, H, W]`` in K -> normalised anomalies (float32)."""
        self._check(x)
        idx = np.asarray(months) - 1
        return ((x - self.mean[idx]) / self.std[idx]).astype(np.float32)

    def denormalize(self, x: np.ndarray, months: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`normalize`."""
        self._check(x)
        idx = np.asarray(months) - 1
        return (x * self.std[idx] + self.mean[idx]).astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "mean": np.round(self.mean.astype(np.float64), 4).tolist(),
            "std": np.round(self.std.astype(np.float64), 5).tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> MonthlyNormalizer:
        mean = np.asarray(d["mean"], np.float32)
        std = np.asarray(d["std"], np.float32)
        if mean.ndim != 3 or mean.shape[0] != 12 or mean.shape != std.shape:
            raise ValueError(
                f"normalisation statistics must both be [12, H, W], got {mean.shape}, {std.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ValueError("normalisation statistics must be finite with positive std")
        return cls(mean, std)
