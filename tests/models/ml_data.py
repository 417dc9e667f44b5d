"""Seeded synthetic data shared by the tests of the ML tooling (sklearn only, small sizes)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from autostock.feeds.synthetic import generate_market


@cache
def market(start: str = "2015-01-01", end: str = "2017-06-30", seed: int = 7):
    """AAPL and MSFT with QQQ (the high-beta index) and the SPY benchmark, about 650 bars."""
    return generate_market(["AAPL", "MSFT", "QQQ"], start, end, seed=seed)


def learnable(n: int = 600, seed: int = 3, noise: float = 0.5) -> tuple[pd.DataFrame, pd.Series]:
    """Features with a known linear link to the label (so a model must beat zero)."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2018-01-01", periods=n, name="date")
    X = pd.DataFrame(rng.standard_normal((n, 4)), index=idx, columns=["a", "b", "c", "d"])
    y = pd.Series(0.8 * X["a"] - 0.5 * X["b"] + noise * rng.standard_normal(n), index=idx, name="y")
    return X, y
