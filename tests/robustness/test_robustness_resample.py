"""Stationary block bootstrap of daily bars and trade-P&L resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autostock.errors import ConfigError, DataError
from autostock.robustness.resample import RelativeBars, path_rng, resample_market, resample_trade_pnl


def _log_returns(market) -> pd.DataFrame:
    return pd.DataFrame({s: np.log(df["close"]).diff() for s, df in market.bars.items()}).dropna()


def test_every_resampled_bar_is_valid_ohlcv(long_market):
    rel = RelativeBars(long_market)
    for path in range(5):
        m = resample_market(rel, block=20, seed=3, path=path)
        for sym, df in m.bars.items():
            assert (df["low"] <= df[["open", "close"]].min(axis=1)).all(), sym
            assert (df["high"] >= df[["open", "close"]].max(axis=1)).all(), sym
            assert (df[["open", "high", "low", "close"]] > 0).all().all(), sym
            assert (df["volume"] >= 0).all(), sym
            assert not df.isna().any().any(), sym


def test_resampled_path_keeps_calendar_symbols_and_first_bar(long_market):
    m = resample_market(long_market, block=10, seed=1, path=0)
    assert list(m.bars) == list(long_market.bars)
    for sym, df in m.bars.items():
        assert df.index.equals(long_market.bars[sym].index)
        pd.testing.assert_series_equal(df.iloc[0], long_market.bars[sym].iloc[0], check_names=False)
    assert m.benchmark.index.equals(long_market.benchmark.index)
    assert "stationary block bootstrap" in m.notes[-1]


def test_resampled_paths_keep_return_mean_and_volatility(long_market):
    orig = _log_returns(long_market)
    rel = RelativeBars(long_market)
    paths = [_log_returns(resample_market(rel, block=20, seed=5, path=p)) for p in range(20)]
    mean = pd.concat([p.mean() for p in paths], axis=1).mean(axis=1)
    vol = pd.concat([p.std() for p in paths], axis=1).mean(axis=1)
    daily_se = orig.std() / np.sqrt(len(orig))
    # averaged over 20 paths the mean daily log return sits within 2 standard errors of the original's
    assert ((mean - orig.mean()).abs() < 2 * daily_se).all(), (mean, orig.mean())
    assert ((vol / orig.std() - 1).abs() < 0.05).all(), (vol, orig.std())


def test_resampled_paths_keep_cross_asset_correlation(long_market):
    orig = _log_returns(long_market).corr().to_numpy()
    rel = RelativeBars(long_market)
    corrs = [_log_returns(resample_market(rel, block=20, seed=9, path=p)).corr().to_numpy() for p in range(10)]
    # off-diagonal correlations are about 0.2-0.3; independent resampling per symbol would give ~0
    assert orig[np.triu_indices(3, 1)].min() > 0.15
    assert np.abs(np.mean(corrs, axis=0) - orig).max() < 0.05
    assert max(np.abs(c - orig).max() for c in corrs) < 0.15
    # the benchmark is resampled on the same dates, so its correlation with a symbol survives too
    m = resample_market(rel, block=20, seed=9, path=0)
    b0 = np.corrcoef(np.diff(np.log(long_market.benchmark)), np.diff(np.log(long_market.bars["AAPL"]["close"])))[0, 1]
    b1 = np.corrcoef(np.diff(np.log(m.benchmark)), np.diff(np.log(m.bars["AAPL"]["close"])))[0, 1]
    assert abs(b1 - b0) < 0.08 and b0 > 0.3


def test_same_seed_and_path_give_the_same_path_and_others_differ(long_market):
    a = resample_market(long_market, block=20, seed=4, path=2)
    b = resample_market(RelativeBars(long_market), block=20, seed=4, path=2)
    c = resample_market(long_market, block=20, seed=4, path=3)
    d = resample_market(long_market, block=20, seed=5, path=2)
    for sym in a.bars:
        pd.testing.assert_frame_equal(a.bars[sym], b.bars[sym])
        assert not a.bars[sym].equals(c.bars[sym])
        assert not a.bars[sym].equals(d.bars[sym])


def test_block_length_controls_run_lengths(long_market):
    rel = RelativeBars(long_market)
    runs = {}
    for block in (2, 50):
        idx = rel.indices(block, path_rng(1, 0))
        breaks = np.count_nonzero(np.diff(idx) != 1)
        runs[block] = len(idx) / (breaks + 1)
    assert runs[2] < 4 and runs[50] > 25


def test_bad_block_and_too_short_data_are_user_errors(two_symbol_market):
    with pytest.raises(ConfigError, match="block"):
        resample_market(two_symbol_market, block=0.5)
    with pytest.raises(DataError, match="at least 3 dates"):
        RelativeBars(two_symbol_market.slice("2018-01-01", "2018-01-02"))


def test_trade_shuffle_permutes_and_bootstrap_draws_from_the_trades():
    pnl = np.array([100.0, -50.0, 25.0, -10.0, 300.0, -75.0])
    shuffled = resample_trade_pnl(pnl, path_rng(0, 0), "shuffle")
    assert sorted(shuffled) == sorted(pnl) and not np.array_equal(shuffled, pnl)
    boot = resample_trade_pnl(pnl, path_rng(0, 1), "bootstrap")
    assert len(boot) == len(pnl) and set(boot) <= set(pnl) and len(set(boot)) < len(pnl)
    with pytest.raises(ConfigError, match="unknown trade resampling"):
        resample_trade_pnl(pnl, path_rng(0, 0), "jackknife")


def test_symbols_with_different_dates_resample_on_their_shared_calendar(long_market):
    from dataclasses import replace

    bars = dict(long_market.bars)
    bars["XOM"] = bars["XOM"].iloc[100:]  # listed later
    m = resample_market(replace(long_market, bars=bars), block=20, seed=1, path=0)
    shared = bars["XOM"].index
    assert all(df.index.equals(shared) for df in m.bars.values())
    assert m.benchmark.index.equals(shared)
    assert "100 other date(s) left out" in m.notes[-1]


SHARED = __import__("pathlib").Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "orcl-1995-2014.csv").exists(), reason="../shared/data (real CSVs) is absent")
def test_real_prices_resample_to_valid_bars_keeping_volatility_and_correlation():
    from dataclasses import replace

    from autostock.feeds import load_market

    orcl = load_market(str(SHARED / "orcl-1995-2014.csv"))
    nvda = load_market(str(SHARED / "nvda-1999-2014.csv"))
    bars = {"ORCL": next(iter(orcl.bars.values())), "NVDA": next(iter(nvda.bars.values()))}
    market = replace(orcl, bars=bars)
    rel = RelativeBars(market)
    orig = _log_returns(rel.build(np.arange(rel.n - 1)))  # identity indices: the shared calendar
    paths = [resample_market(rel, block=20, seed=2, path=p) for p in range(5)]
    for m in paths:
        for df in m.bars.values():
            assert (df["low"] <= df[["open", "close"]].min(axis=1)).all()
            assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()
    rets = [_log_returns(m) for m in paths]
    vol = pd.concat([r.std() for r in rets], axis=1).mean(axis=1)
    assert ((vol / orig.std() - 1).abs() < 0.1).all()
    corr = np.mean([r.corr().iloc[0, 1] for r in rets])
    assert abs(corr - orig.corr().iloc[0, 1]) < 0.05


def test_identity_indices_rebuild_the_original_market(long_market):
    rel = RelativeBars(long_market)
    rebuilt = rel.build(np.arange(rel.n - 1))
    for sym, df in rebuilt.bars.items():
        np.testing.assert_allclose(df.to_numpy(), long_market.bars[sym].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(rebuilt.benchmark.to_numpy(), long_market.benchmark.to_numpy(), rtol=1e-9)
