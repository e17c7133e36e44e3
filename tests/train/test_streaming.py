"""Training reads chunked files a batch (or a member) at a time and learns what it learns in memory."""

import dask.array as da
import numpy as np
import pytest
import torch
from dask.callbacks import Callback
from safetensors.torch import load_file

from climviz.cli import main
from climviz.data.loader import open_ensemble
from climviz.data.normalize import MonthlyNormalizer
from climviz.nn.vae import VAEConfig
from climviz.pipelines.ensemble_training import train_ensemble_ldm, train_ensemble_vae
from climviz.train.common import LoopSettings
from climviz.train.streaming import FrameSource, fit_normalizer, is_lazy


class LargestResult(Callback):
    """Records the largest array any Dask task returns (a whole-array load returns the whole array)."""

    def __init__(self):
        super().__init__()
        self.nbytes, self.tasks = 0, 0

    def _posttask(self, key, result, dsk, state, worker_id):
        self.tasks += 1
        self.nbytes = max(self.nbytes, getattr(result, "nbytes", 0))


def _ensemble(m=3, t=30, h=8, w=16, seed=0):
    rng = np.random.default_rng(seed)
    months = (np.arange(t) + 4) % 12 + 1  # starts in May: some months occur more often
    seasonal = 10 * np.sin(2 * np.pi * months / 12)[None, :, None, None]
    values = (280 + seasonal + rng.gamma(2.0, 1.5, (m, t, h, w))).astype(np.float32)
    return values, months


def test_streaming_normalizer_matches_the_in_memory_fit():
    values, months = _ensemble()
    lazy = da.from_array(values, chunks=(1, 7, 8, 8))  # chunks cut across months and the grid
    ref = MonthlyNormalizer.fit(values, months)
    with LargestResult() as seen:
        got = fit_normalizer(lazy, months)
    np.testing.assert_allclose(got.mean, ref.mean, rtol=1e-6)
    np.testing.assert_allclose(got.std, ref.std, rtol=1e-5)
    assert seen.tasks > 0 and seen.nbytes < values.nbytes / 2
    # in memory, it is the in-memory fit itself
    same = fit_normalizer(values, months)
    np.testing.assert_array_equal(same.mean, ref.mean)
    np.testing.assert_array_equal(same.std, ref.std)
    with pytest.raises(ValueError, match="every calendar month"):
        fit_normalizer(lazy[:, :10], months[:10])


def test_frame_source_reads_only_the_batch_and_equals_the_normalised_array():
    values, months = _ensemble()
    norm = MonthlyNormalizer.fit(values, months)
    m, t = values.shape[:2]
    expected = norm.normalize(values, np.broadcast_to(months, (m, t))).reshape(m * t, *values.shape[2:])
    idx = np.sort(np.random.default_rng(1).integers(0, m * t, 5))
    lazy = FrameSource(da.from_array(values, chunks=(1, 6, 8, 16)), months, norm)
    with LargestResult() as seen:
        batch = lazy[idx]
    np.testing.assert_array_equal(batch, expected[idx])
    assert seen.nbytes <= 6 * values[0, 0].nbytes  # at most one chunk of six frames at a time
    np.testing.assert_array_equal(FrameSource(values, months, norm)[idx], expected[idx])
    assert lazy.shape == expected.shape and len(lazy) == m * t
    with pytest.raises(IndexError):
        lazy[np.array([m * t])]


def test_training_from_a_chunked_file_streams_and_matches_memory(tmp_path):
    path = tmp_path / "toy.nc"  # chunks of (1 member, 12 months, lat, lon) on disk
    assert (
        main(
            [
                "data",
                "toy-ensemble",
                "-o",
                str(path),
                "--members",
                "3",
                "--start",
                "1990",
                "--end",
                "1991",
                "--grid",
                "16x32",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    lazy = open_ensemble(path)
    assert is_lazy(lazy) and lazy.chunks[1] == (12, 12)
    whole, member = lazy.nbytes, lazy.nbytes // lazy.sizes["member"]
    in_memory = open_ensemble(path).load().to_dataset()
    assert not is_lazy(open_ensemble(in_memory))

    settings = LoopSettings(steps=3, batch_size=4, lr=2e-3, checkpoint_every=10)
    cfg = VAEConfig(channels=[16, 16, 16], latent_channels=2)
    kw = {"settings": settings, "vae_config": cfg, "device": torch.device("cpu")}
    torch.manual_seed(0)
    with LargestResult() as seen:
        train_ensemble_vae(path, tmp_path / "disk" / "vae", **kw)
        train_ensemble_ldm(
            path,
            tmp_path / "disk",
            settings=LoopSettings(steps=2, batch_size=2),
            architecture={"d_model": 16, "levels": 2, "window": 12},
            device="cpu",
        )
    torch.manual_seed(0)
    train_ensemble_vae(in_memory, tmp_path / "memory" / "vae", **kw)
    # nothing Dask computed held more than one member (LDM encoding reads member by member)
    assert seen.tasks > 0 and seen.nbytes <= member < whole
    a = load_file(str(tmp_path / "disk" / "vae" / "model.safetensors"))
    b = load_file(str(tmp_path / "memory" / "vae" / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    assert (tmp_path / "disk" / "transformer" / "model.safetensors").exists()
