"""Data-parallel training: two gloo processes under torchrun train what one process trains."""

import contextlib
import io
import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from climviz.cli import main
from climviz.nn import checkpoint as ckpt
from climviz.nn.cau_unet import CAUUNet, residual_config
from climviz.nn.vae import VAE, VAEConfig
from climviz.train import distributed

WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shards_partition_the_batch_in_equal_interleaved_parts(world):
    batch = torch.arange(12 * 5).reshape(12, 5)
    parts = [distributed.shard(batch, rank=r, world=world) for r in range(world)]
    assert {len(p) for p in parts} == {12 // world}
    rebuilt = torch.empty_like(batch)
    for r, p in enumerate(parts):
        rebuilt[r::world] = p
    assert torch.equal(rebuilt, batch)
    # numpy arrays shard the same way; without a process group a shard is the whole batch
    np.testing.assert_array_equal(
        distributed.shard(batch.numpy(), rank=world - 1, world=world), parts[-1].numpy()
    )
    assert distributed.shard(batch) is batch and distributed.world_size() == 1


def _losses(log: str) -> list[tuple[str, float]]:
    return [(m[1], float(m[2])) for m in re.finditer(r"^(\S+ step \d+/\d+) loss=(\S+)", log, re.MULTILINE)]


@pytest.mark.slow
def test_two_gloo_processes_train_like_one(tmp_path, monkeypatch):
    data = tmp_path / "toy.nc"
    assert (
        main(
            [
                "data",
                "toy-ensemble",
                "-o",
                str(data),
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
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    multi = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(WORKER),
            str(two),
            str(data),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:  # meanwhile the same work in this process, without a process group
        monkeypatch.setattr(ckpt, "save_checkpoint", ckpt.save_checkpoint)  # the worker wraps it
        monkeypatch.setattr(sys, "argv", [str(WORKER), str(one), str(data)])
        with contextlib.redirect_stderr(io.StringIO()) as err:
            runpy.run_path(str(WORKER), run_name="__main__")
        logs = [err.getvalue(), multi.communicate(timeout=600)[0]]
    finally:
        multi.kill()
    assert multi.returncode == 0, logs[1][-3000:]

    # the same weights (VAE with a resume, autoregressive LDM, TAUDiff residual denoiser) ...
    for name in ("ens/vae", "ens/autoregressive", "residual"):
        a, b = (
            load_file(str(one / name / "model.safetensors")),
            load_file(str(two / name / "model.safetensors")),
        )
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6, msg=f"{name} {k}")
    # ... while training moved them much further (the first steps of the warm-up are small)
    torch.manual_seed(0)
    starts = {"ens/vae": VAE(VAEConfig(channels=[16, 16, 16], latent_channels=2)).state_dict()}
    torch.manual_seed(0)
    starts["residual"] = CAUUNet(residual_config(base=8, growth=4, mults=(1, 2), emb_dim=16)).state_dict()
    for name, start in starts.items():
        trained = load_file(str(two / name / "model.safetensors"))
        assert max((trained[k] - start[k]).abs().max().item() for k in start) > 5e-5
    cfg = json.loads((two / "ens/vae/config.json").read_text())
    assert cfg["trained_steps"] == 3 and cfg["hardware"].startswith("2 processes")

    # every rank ends with the same weights
    r0, r1 = torch.load(two / "residual-rank0.pt"), torch.load(two / "residual-rank1.pt")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)

    # rank 0 alone wrote checkpoints and progress lines, as many as one process did
    assert not (two / "writes-rank1.txt").exists()
    writes = [(d / "writes-rank0.txt").read_text().replace(str(d), "") for d in (one, two)]
    assert writes[0] == writes[1] and writes[0].count("\n") == 5
    alone, together = _losses(logs[0]), _losses(logs[1])
    assert [s for s, _ in together] == [s for s, _ in alone] and len(alone) == 6
    # the reported loss is the mean over ranks: the single-process loss of the global batch
    np.testing.assert_allclose([v for _, v in together], [v for _, v in alone], rtol=2e-3)
    assert logs[1].count("does not split evenly over 2 processes") == 2
