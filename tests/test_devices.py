"""climviz.devices: the one place a device choice becomes a torch.device."""

import pytest
import torch

from climviz.devices import resolve_device
from climviz.vocabulary import DEVICES


@pytest.mark.parametrize("gpu", [True, False])
def test_auto_picks_cuda_only_when_torch_sees_one(monkeypatch, gpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert resolve_device() == resolve_device("auto") == torch.device("cuda" if gpu else "cpu")
    assert resolve_device("auto", index=1) == (torch.device("cuda", 1) if gpu else torch.device("cpu"))
    assert resolve_device("cpu") == torch.device("cpu")  # an explicit choice is kept
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_every_name_of_the_vocabulary_resolves(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert [str(resolve_device(name)) for name in DEVICES] == ["cpu", "cpu", "cuda"]


def test_training_resolves_here(monkeypatch):
    """The training loops' default device is resolve_device's "auto" (with torchrun's local rank)."""
    from climviz.train import common

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert common.default_device() == torch.device("cuda", 1)  # torchrun: this process's GPU
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert common.default_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert common.default_device() == torch.device("cpu")
