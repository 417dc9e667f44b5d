"""VolumeProfile indicator (both backtrader modes, equal to the feature) and the sector_rotation strategy."""

from __future__ import annotations

import numpy as np
import pytest

from autostock.config import build_spec
from autostock.engine import run_backtest
from autostock.feeds import load_market
from autostock.indicators.volume_profile import VolumeProfile
from autostock.models.features_micro import volume_profile
from autostock.registry import STRATEGIES
from tests.btprobe import line_values


@pytest.fixture(scope="module")
def bars():
    return load_market("synthetic", ["AAPL"], "2020-01-01", "2020-12-31").bars["AAPL"]


@pytest.mark.parametrize("line", ["poc", "vah", "val"])
def test_volume_profile_indicator_agrees_in_both_modes_and_with_the_feature_function(bars, line):
    batch = line_values(bars, lambda d: getattr(VolumeProfile(d, period=20), line), True)
    step = line_values(bars, lambda d: getattr(VolumeProfile(d, period=20), line), False)
    np.testing.assert_allclose(batch, step, rtol=1e-12)
    typical = ((bars["high"] + bars["low"] + bars["close"]) / 3).to_numpy()
    expected = volume_profile(typical, bars["volume"].to_numpy(), 20)[("poc", "vah", "val").index(line)]
    np.testing.assert_allclose(batch, expected[19:], rtol=1e-12)
    if line == "vah":
        val = line_values(bars, lambda d: VolumeProfile(d, period=20).val, True)
        assert (batch > val).all()


def test_volume_profile_value_at_t_does_not_change_when_later_bars_are_added(bars):
    whole = line_values(bars, lambda d: VolumeProfile(d, period=20).poc, True)
    part = line_values(bars.iloc[:120], lambda d: VolumeProfile(d, period=20).poc, True)
    np.testing.assert_allclose(part, whole[: len(part)])


def test_sector_rotation_is_registered_and_holds_the_leader_against_the_benchmark():
    assert "sector_rotation" in STRATEGIES.names()
    market = load_market("synthetic", ["XLK", "XLF", "XLE", "SPY"], "2018-01-01", "2020-12-31", "SPY", 9)
    spec = build_spec(
        None,
        strategy="sector_rotation",
        symbols=["XLK", "XLF", "XLE", "SPY"],
        params={"top_n": 1, "lookback": 63, "rebalance": 21},
    )
    result = run_backtest(spec, market)
    bought = result.orders[(result.orders["side"] == "buy") & (result.orders["status"] == "Completed")]
    assert len(bought) >= 2 and "SPY" not in set(bought["symbol"])  # the benchmark is never traded
    # the first entry is the feed with the best 63-bar return relative to SPY at that rebalance
    first = bought.iloc[0]
    decided = result.orders[result.orders["ref"] == first["ref"]]["created"].iloc[0]
    closes = {s: market.bars[s]["close"].loc[:decided] for s in ("XLK", "XLF", "XLE", "SPY")}
    rel = {
        s: np.log(c.iloc[-1] / c.iloc[-64]) - np.log(closes["SPY"].iloc[-1] / closes["SPY"].iloc[-64])
        for s, c in closes.items()
        if s != "SPY"
    }
    assert first["symbol"] == max(rel, key=rel.get) and rel[first["symbol"]] > 0
