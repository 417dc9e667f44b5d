"""Seeded null markets for honesty tests: pure random walks, and one with a planted causal signal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from autostock.feeds.market import Market


def ar1_returns(n: int, seed: int, phi: float = 0.0, vol: float = 0.01) -> np.ndarray:
    """Daily log returns r_t = phi * r_{t-1} + e_t (phi = 0: a pure random walk, zero drift)."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, vol, n)
    r = np.empty(n)
    r[0] = e[0]
    for t in range(1, n):
        r[t] = phi * r[t - 1] + e[t]
    return r


def walk_market(seed: int, n: int = 750, phi: float = 0.0, symbol: str = "RW", start: str = "2015-01-01") -> Market:
    """One symbol whose closes follow ``ar1_returns`` (valid OHLCV bars, business days)."""
    rng = np.random.default_rng(seed + 10_000)
    r = ar1_returns(n, seed, phi)
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]]
    wiggle = np.abs(rng.normal(0.0, 0.002, (2, n)))
    dates = pd.bdate_range(start, periods=n, name="date")
    bars = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wiggle[0]),
            "low": np.minimum(open_, close) * (1 - wiggle[1]),
            "close": close,
            "volume": rng.integers(100_000, 200_000, n).astype(float),
        },
        index=dates,
    )
    label = f"random walk seed {seed}" if phi == 0 else f"AR(1) phi={phi} seed {seed}"
    return Market({symbol: bars}, label, synthetic=True, notes=[f"SYNTHETIC {label}"])
