"""Fixtures for the dashboard tests: report folders written by the real commands (tiny sizes)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from autostock.cli import cli


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "browser: drives the dashboard in headless Chromium (skips without it)")


def _run(args: list[str]) -> None:
    out = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert out.exit_code == 0, out.output


@pytest.fixture(scope="session")
def reports_root(tmp_path_factory):
    """One folder of each kind autostock writes, from the real commands on seeded synthetic data."""
    root = tmp_path_factory.mktemp("reports")
    common = ["--symbols", "AAA", "--start", "2020-01-01", "--end", "2021-12-31"]
    _run(["backtest", *common, "--no-pyfolio", "-o", str(root / "bt-slow")])
    _run(["backtest", *common, "-p", "fast=5", "-p", "slow=20", "--no-pyfolio", "--no-tearsheet",
          "-o", str(root / "bt-fast")])
    _run(["montecarlo", *common, "--paths", "6", "-w", "1", "--no-progress", "-o", str(root / "mc")])
    _run(["optimize", *common, "-g", "fast=5,10", "-g", "slow=20,30", "-w", "1", "--no-progress",
          "-o", str(root / "opt")])
    _run(["walkforward", "--symbols", "AAA", "--start", "2017-01-01", "--end", "2020-12-31", "-g", "fast=5,10",
          "-g", "slow=30", "--train", "2y", "--test", "1y", "-w", "1", "--no-progress", "--no-tearsheet",
          "-o", str(root / "wf")])
    _run(["train", "-m", "ridge", "--symbols", "AAA", "--start", "2016-01-01", "--end", "2020-12-31",
          "--walk-forward", "train=300,test=100", "-q", "-o", str(root / "model")])
    return root
