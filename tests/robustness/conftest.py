"""Shared small, seeded inputs for the robustness tests."""

from __future__ import annotations

import pytest

from autostock.config import RunSpec
from autostock.feeds.synthetic import generate_market


@pytest.fixture(scope="session")
def two_symbol_market():
    """Two symbols and the SPY benchmark over two years of business days (seeded)."""
    return generate_market(["AAPL", "MSFT"], "2018-01-01", "2019-12-31", seed=7)


@pytest.fixture(scope="session")
def long_market():
    """Three symbols over ten years, for distribution checks of the resampler (no backtests)."""
    return generate_market(["AAPL", "MSFT", "XOM"], "2010-01-01", "2019-12-31", seed=11)


@pytest.fixture()
def sma_spec():
    return RunSpec(strategy="sma_cross", params={"fast": 5, "slow": 20}, symbols=["AAPL", "MSFT"])
