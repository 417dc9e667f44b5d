"""Costs go through backtrader's commission info and slippage, and trades.csv shows them."""

from __future__ import annotations

import pytest

from autostock.config import RunSpec
from autostock.engine import run_backtest

BASE = dict(strategy="sma_cross", params={"fast": 5, "slow": 20})


def test_percent_commission_is_charged_on_every_fill(small_market) -> None:
    result = run_backtest(RunSpec(**BASE, commission=0.1), small_market)
    done = result.orders[result.orders.status == "Completed"]
    expected = done["exec_price"] * done["exec_size"].abs() * 0.001
    assert done["commission"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-9)
    trades = result.trades
    assert (trades["commission"] > 0).all()
    assert (trades["pnl"] - trades["commission"]).to_numpy() == pytest.approx(trades["pnl_after_costs"].to_numpy())


def test_per_share_commission_applies_the_minimum(small_market) -> None:
    result = run_backtest(
        RunSpec(**BASE, commission_per_share=0.005, commission_min=1.0, sizer="fixed", sizer_params={"stake": 50}),
        small_market,
    )
    done = result.orders[result.orders.status == "Completed"]
    assert (done["commission"] == 1.0).all()  # 50 shares * 0.005 = 0.25 < minimum 1.0
    big = run_backtest(
        RunSpec(**BASE, commission_per_share=0.005, commission_min=1.0, sizer="fixed", sizer_params={"stake": 400}),
        small_market,
    )
    done = big.orders[big.orders.status == "Completed"]
    assert done["commission"].to_numpy() == pytest.approx([2.0] * len(done))


def test_slippage_and_half_spread_move_fills_against_the_trader(small_market) -> None:
    clean = run_backtest(RunSpec(**BASE, sizer="fixed", sizer_params={"stake": 10}), small_market)
    costly = run_backtest(
        RunSpec(**BASE, sizer="fixed", sizer_params={"stake": 10}, slippage=0.05, spread_bps=10), small_market
    )
    a = clean.orders[clean.orders.status == "Completed"].reset_index(drop=True)
    b = costly.orders[costly.orders.status == "Completed"].reset_index(drop=True)
    assert list(a["created"]) == list(b["created"])  # same decisions, fixed size
    rate = 0.05 / 100 + 10 / 2 / 10_000
    exact = 0
    for (_, x), (_, y) in zip(a.iterrows(), b.iterrows()):
        against = 1 if x["side"] == "buy" else -1
        full = x["exec_price"] * (1 + against * rate)
        if y["exec_price"] == pytest.approx(full, rel=1e-9):
            exact += 1
        else:  # capped inside the bar's high/low (backtrader slip_match): still against the trader, but less
            assert against * (y["exec_price"] - x["exec_price"]) > 0
            assert against * (full - y["exec_price"]) > 0
        assert y["slippage_cost"] == pytest.approx(abs(y["exec_price"] - x["exec_price"]) * 10, rel=1e-6, abs=1e-9)
    assert exact >= 0.8 * len(a)
    assert costly.trades["slippage_cost"].sum() > 0
    assert costly.final_value < clean.final_value


def test_config_rejects_negative_costs_and_a_minimum_without_per_share() -> None:
    from autostock.errors import ConfigError

    with pytest.raises(ConfigError, match="slippage must be >= 0"):
        RunSpec(slippage=-1)
    with pytest.raises(ConfigError, match="commission_min=1.0 applies to a per-share commission only"):
        RunSpec(commission=0.1, commission_min=1.0)
