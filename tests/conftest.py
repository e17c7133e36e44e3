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


# ---------------------------------------------------------------- say what was skipped

_BROWSER_SKIPS: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and "browser" in report.keywords:
        _BROWSER_SKIPS.append(report.nodeid)


def pytest_unconfigure(config):
    """One clear line, after pytest's closing line, when the browser tests did not run."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if _BROWSER_SKIPS and reporter is not None:
        n = len(_BROWSER_SKIPS)
        reporter.write_line(
            f"climviz: {n} browser test{'s' if n > 1 else ''} SKIPPED (headless Chromium missing at "
            "/usr/bin/chromium): run `apt-get install chromium`, then `make test` again "
            "(CLIMVIZ_REQUIRE_BROWSER=1 turns a missing browser into a failure; `bash .ci/run` does both).",
            yellow=True,
            bold=True,
        )
