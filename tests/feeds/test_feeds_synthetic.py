"""The synthetic market: deterministic, valid OHLCV, factor structure, regimes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from autostock.feeds.synthetic import generate_market, regime_path
from autostock.feeds.validate import validate_ohlcv

SYMBOLS = ["AAPL", "MSFT", "NVDA", "JPM", "BAC", "XOM", "CVX"]


def test_same_seed_same_market_other_seed_differs() -> None:
    a = generate_market(SYMBOLS, "2015-01-01", "2019-12-31", seed=5)
    b = generate_market(SYMBOLS, "2015-01-01", "2019-12-31", seed=5)
    c = generate_market(SYMBOLS, "2015-01-01", "2019-12-31", seed=6)
    for s in SYMBOLS:
        pd.testing.assert_frame_equal(a.bars[s], b.bars[s])
        assert not a.bars[s]["close"].equals(c.bars[s]["close"])
    pd.testing.assert_series_equal(a.benchmark, b.benchmark)


def test_adding_a_symbol_leaves_the_others_unchanged() -> None:
    a = generate_market(SYMBOLS[:3], "2018-01-01", "2019-12-31", seed=5)
    b = generate_market(SYMBOLS, "2018-01-01", "2019-12-31", seed=5)
    for s in SYMBOLS[:3]:
        pd.testing.assert_frame_equal(a.bars[s], b.bars[s])


def test_bars_pass_validation_with_realistic_ohlcv() -> None:
    m = generate_market(SYMBOLS, "2010-01-01", "2019-12-31", seed=11)
    for s, df in m.bars.items():
        validate_ohlcv(df.reset_index(), f"synthetic:{s}")
        assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()
        assert (df["low"] <= df[["open", "close"]].min(axis=1)).all()
        assert (df["volume"] > 0).all()
        vol = np.log(df["close"]).diff().std() * np.sqrt(252)
        assert 0.1 < vol < 0.8
    assert m.synthetic and "SYNTHETIC" in m.label


def test_same_sector_correlates_more_than_across_sectors() -> None:
    m = generate_market(SYMBOLS, "2010-01-01", "2019-12-31", seed=3)
    r = pd.DataFrame({s: np.log(df["close"]).diff() for s, df in m.bars.items()}).dropna()
    corr = r.corr()
    within = np.mean([corr.loc["AAPL", "MSFT"], corr.loc["JPM", "BAC"], corr.loc["XOM", "CVX"]])
    across = np.mean([corr.loc["AAPL", "XOM"], corr.loc["JPM", "CVX"], corr.loc["MSFT", "BAC"]])
    assert within > across + 0.1
    bench = np.log(m.benchmark).diff().dropna()
    assert all(r[s].corr(bench) > 0.2 for s in SYMBOLS)


def test_volatility_clusters_and_all_regimes_occur() -> None:
    m = generate_market(["AAPL"], "2000-01-01", "2019-12-31", seed=2)
    r = np.log(m.bars["AAPL"]["close"]).diff().dropna()
    # GARCH: squared returns are autocorrelated, raw returns much less
    assert r.pow(2).autocorr(1) > 0.05
    assert abs(r.autocorr(1)) < r.pow(2).autocorr(1)
    states = regime_path(5000, seed=2)
    assert set(np.unique(states)) == {0, 1, 2}
