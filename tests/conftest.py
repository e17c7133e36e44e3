"""Test-wide settings."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    """One torch thread by default: on small shared machines two threads that
    compete with other processes were measured up to 30x slower than one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("CLIMVIZ_TEST_THREADS", "1")))
    yield
    torch.set_num_threads(before)
