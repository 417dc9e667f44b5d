"""Each built-in strategy on seeded synthetic data: it trades, its decisions never look ahead,
and backtrader's runonce (vectorised) and next-by-next modes agree."""

from __future__ import annotations

import pandas as pd
import pytest

from autostock.config import RunSpec
from autostock.engine import build_cerebro, run_backtest

BUILTINS = {
    "buy_hold": {},
    "sma_cross": {"fast": 5, "slow": 20},
    "rsi": {"period": 7, "oversold": 35.0, "overbought": 65.0},
    "mean_reversion": {"period": 10, "entry": 1.5},
    "momentum": {"lookback": 40, "top_n": 2, "rebalance": 10},
}


def _orders(spec: RunSpec, market, runonce: bool = True) -> pd.DataFrame:
    cerebro = build_cerebro(spec, market)
    strat = cerebro.run(runonce=runonce)[0]
    frame = pd.DataFrame(strat.analyzers.recorder.orders)
    return frame[["created", "symbol", "side", "size", "status", "exec_price"]]


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_strategy_trades_on_synthetic_data(name: str, small_market) -> None:
    result = run_backtest(RunSpec(strategy=name, params=BUILTINS[name]), small_market)
    completed = result.orders[result.orders.status == "Completed"]
    assert len(completed) > 0
    if name == "buy_hold":
        assert set(completed.symbol) == set(small_market.symbols)
        assert (completed.side == "buy").all()
    else:
        assert (completed.side == "sell").any() and result.metrics["n_trades"] > 0
    assert result.equity["value"].iloc[-1] > 0
    assert (result.positions["size"] > 0).all()  # long-only by default


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_runonce_and_next_modes_give_identical_orders(name: str, small_market) -> None:
    spec = RunSpec(strategy=name, params=BUILTINS[name])
    pd.testing.assert_frame_equal(_orders(spec, small_market, True), _orders(spec, small_market, False))


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_decisions_up_to_bar_t_do_not_depend_on_later_bars(name: str, small_market) -> None:
    """Truncation test: orders created on or before the cut are identical with the data cut there."""
    spec = RunSpec(strategy=name, params=BUILTINS[name])
    cut = small_market.dates()[400]
    full = _orders(spec, small_market)
    part = _orders(spec, small_market.slice(None, cut))
    before = lambda f: (
        f[pd.to_datetime(f["created"]) < cut].drop(columns=["status", "exec_price"]).reset_index(drop=True)
    )
    assert len(before(full)) > 0
    pd.testing.assert_frame_equal(before(full), before(part))


def test_allow_short_opens_short_positions(small_market) -> None:
    result = run_backtest(
        RunSpec(strategy="sma_cross", params={"fast": 5, "slow": 20, "allow_short": True}), small_market
    )
    assert (result.positions["size"] < 0).any()
    assert (result.trades["direction"] == "short").any()


def test_momentum_holds_at_most_top_n(small_market) -> None:
    result = run_backtest(
        RunSpec(strategy="momentum", params={"lookback": 40, "top_n": 2, "rebalance": 10}), small_market
    )
    held = result.positions.groupby("date")["symbol"].nunique()
    assert held.max() <= 2
    assert held.max() == 2


@pytest.mark.parametrize(
    "params, message",
    [
        ({"fast": 30, "slow": 10}, "0 < fast < slow"),
        ({"fast": "abc"}, "expected int"),
        ({"fst": 3}, "valid: allow_short=False, fast=10, slow=30"),
    ],
)
def test_bad_strategy_params_fail_fast_naming_the_value(params, message, small_market) -> None:
    from autostock.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        run_backtest(RunSpec(strategy="sma_cross", params=params), small_market)


def test_momentum_state_round_trips_through_json(small_market) -> None:
    import json

    spec = RunSpec(strategy="momentum", params=BUILTINS["momentum"])
    strat = build_cerebro(spec, small_market).run()[0]
    state = json.loads(json.dumps(strat.state_dict()))
    assert state["bars"] == len(strat) - BUILTINS["momentum"]["lookback"]  # next() runs after the warm-up
    assert len(state["members"]) == 2
    fresh = build_cerebro(spec, small_market.slice(None, small_market.dates()[200])).run()[0]
    fresh.load_state(state)
    assert fresh.state_dict() == state
