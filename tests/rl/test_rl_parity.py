"""The environment's account equals backtrader's backtest of the same actions through rl_policy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.rl.execution import Account, CostModel, plan_order
from autostock.rl.simulator import run_weights
from tests.rl.rl_data import synthetic

COSTS = [
    {},
    {"commission": 0.1, "slippage": 0.05, "spread_bps": 5.0},
    {"commission_per_share": 0.005, "commission_min": 1.0, "slippage": 0.1, "spread_bps": 10.0},
]


@pytest.mark.parametrize(
    ("costs", "band"),
    [(COSTS[0], 0.0), (COSTS[1], 0.3), (COSTS[2], 0.0)],
    ids=["no-costs", "percent-band", "per-share"],
)
def test_env_equity_matches_backtrader_rl_policy_within_half_percent(costs: dict, band: float) -> None:
    market = synthetic()
    bars = market.bars["AAPL"]
    rng = np.random.default_rng(11)
    weights = pd.Series(rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], len(bars)), index=bars.index)
    spec = RunSpec(strategy="rl_policy", params={"actions": weights, "band": band}, symbols=["AAPL"], **costs)
    bt_equity = run_backtest(spec, market).equity["value"]
    env = run_weights(bars, weights, CostModel.from_spec(spec), spec.cash, band)["equity"]
    assert list(bt_equity.index) == list(env.index)
    assert float((env / bt_equity - 1).abs().max()) < 0.005
    assert env.iloc[-1] != pytest.approx(spec.cash)  # it traded
    if costs:
        free = run_weights(bars, weights, CostModel(), spec.cash, band)["equity"]
        assert env.iloc[-1] < free.iloc[-1]  # the costs were paid


def test_buy_sized_on_the_close_is_cut_to_what_the_cash_pays_for() -> None:
    account = Account(cash=10_000.0)
    costs = CostModel(commission=1.0)
    delta = plan_order(account, 1.0, 100.0, costs.fee)
    assert delta == 99  # 100 shares cost 10,000 + 100 commission > 10,000 cash
    assert account.cash - delta * 100.0 - costs.fee(delta, 100.0) >= 0


def test_rl_policy_refuses_bars_without_an_out_of_sample_action() -> None:
    from autostock.errors import ConfigError

    market = synthetic()
    bars = market.bars["AAPL"]
    weights = pd.Series(1.0, index=bars.index).where(bars.index >= bars.index[100])
    spec = RunSpec(strategy="rl_policy", params={"actions": weights}, symbols=["AAPL"])
    with pytest.raises(ConfigError, match=f"no out-of-sample action for AAPL on {bars.index[0].date()}"):
        run_backtest(spec, market)
    ok = run_backtest(spec.replace(start=str(bars.index[100].date())), market)
    assert ok.equity.index[0] == bars.index[100]


def test_full_long_target_survives_slippage_and_gaps_and_matches_backtrader() -> None:
    market = synthetic()
    bars = market.bars["AAPL"]
    weights = pd.Series(1.0, index=bars.index)
    spec = RunSpec(
        strategy="rl_policy", params={"actions": weights}, symbols=["AAPL"], slippage=0.1, spread_bps=10, commission=0.1
    )
    bt_run = run_backtest(spec, market)
    env = run_weights(bars, weights, CostModel.from_spec(spec), spec.cash)
    assert (env["shares"].iloc[1:] > 0).all()  # bought at the first open and held
    weight_held = env["shares"].iloc[1] * bars["close"].iloc[1] / env["equity"].iloc[1]
    assert 0.95 < weight_held <= 1.0
    assert float((env["equity"] / bt_run.equity["value"] - 1).abs().max()) < 0.005


@pytest.mark.parametrize("costs", [COSTS[1], COSTS[2]], ids=["percent", "per-share"])
def test_multi_symbol_equity_is_the_sum_of_one_env_sleeve_per_symbol(costs: dict) -> None:
    from autostock.feeds.synthetic import generate_market

    symbols = ["AAPL", "MSFT", "XOM"]
    market = generate_market(symbols, "2016-01-01", "2016-12-31", seed=9)
    rng = np.random.default_rng(3)
    actions = {
        s: pd.Series(rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], len(market.bars[s])), index=market.bars[s].index)
        for s in symbols
    }
    spec = RunSpec(strategy="rl_policy", params={"actions": actions}, symbols=symbols, **costs)
    bt_equity = run_backtest(spec, market).equity["value"]
    sleeves = {
        s: run_weights(market.bars[s], actions[s], CostModel.from_spec(spec), spec.cash / len(symbols))["equity"]
        for s in symbols
    }
    env = sum(sleeves.values())
    assert list(bt_equity.index) == list(env.index)
    assert float((env / bt_equity - 1).abs().max()) < 0.005
    # the sleeves went separate ways, so pooling them would have mattered
    finals = sorted(float(v.iloc[-1]) for v in sleeves.values())
    assert finals[-1] - finals[0] > 0.02 * spec.cash / len(symbols)
