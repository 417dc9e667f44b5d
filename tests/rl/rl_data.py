"""Seeded data shared by the RL tests: a synthetic market and tiny ridge predictors trained walk-forward."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from autostock.feeds.market import Market

FEATURES = "logret_1,vol_20"


@cache
def synthetic(seed: int = 5) -> Market:
    from autostock.feeds.synthetic import generate_market

    return generate_market(["AAPL"], "2016-01-01", "2018-12-31", seed=seed)


def train_predictor(market: Market, out: Path, train: int = 250, test: int = 125) -> Path:
    """A ridge predictor of the next bar's return, walk-forward (out-of-sample forecasts saved)."""
    from autostock.models.training import train as run_train
    from autostock.models.walkforward import WalkForwardConfig

    run_train(
        market, "ridge", "fwd_return_1", "logret_1,logret_5,vol_20", WalkForwardConfig(train=train, test=test), out=out
    )
    return out


def random_walk(n: int, seed: int) -> Market:
    """A driftless seeded random walk (no exploitable signal)."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2010-01-01", periods=n, name="date")
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[50.0], close[:-1]]) * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * 1.003
    low = np.minimum(open_, close) * 0.997
    bars = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1e6}, index=idx)
    return Market({"RW": bars}, "random-walk", synthetic=True)


def planted(n: int, seed: int, phi: float = 0.5) -> Market:
    """An AR(1) return series, ``r_t = phi * r_{t-1} + e_t``, that opens at the previous close: the
    sign of bar t's return (known at its close, a causal signal the ridge predictor learns from
    logret_1) predicts bar t+1's open-to-close move, which a decision at t captures."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2010-01-01", periods=n, name="date")
    ret = np.zeros(n)
    e = rng.normal(0, 0.01, n)
    for t in range(1, n):
        ret[t] = phi * ret[t - 1] + e[t]
    close = 50 * np.exp(np.cumsum(ret))
    open_ = np.concatenate([[50.0], close[:-1]])
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    bars = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1e6}, index=idx)
    return Market({"PL": bars}, "planted", synthetic=True)
