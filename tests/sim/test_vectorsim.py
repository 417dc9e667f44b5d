"""The vectorised simulator gives backtrader's trades and equity; sweeps use it where it applies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.errors import ConfigError
from autostock.feeds.synthetic import generate_market
from autostock.robustness.executor import Executor
from autostock.sim.vectorsim import run, simulate, why_not

SYMBOLS = ["AAPL", "MSFT", "JPM"]
TRADE_NUMBERS = ["entry_price", "exit_price", "size", "bars", "pnl", "commission", "slippage_cost", "pnl_after_costs"]


@pytest.fixture(scope="module")
def market():
    return generate_market(SYMBOLS, "2016-01-01", "2018-12-31", seed=5)


def assert_same_run(a, b):
    np.testing.assert_allclose(b.equity["value"].to_numpy(), a.equity["value"].to_numpy(), rtol=1e-9, atol=0)
    np.testing.assert_allclose(b.equity["cash"].to_numpy(), a.equity["cash"].to_numpy(), rtol=1e-9, atol=1e-7)
    assert b.equity.index.equals(a.equity.index)
    assert b.equity.index.freq == a.equity.index.freq
    assert len(a.trades) == len(b.trades)
    for col in ("symbol", "entry_date", "exit_date"):
        assert a.trades[col].tolist() == b.trades[col].tolist()
    np.testing.assert_allclose(
        b.trades[TRADE_NUMBERS].to_numpy(float), a.trades[TRADE_NUMBERS].to_numpy(float), rtol=1e-9, atol=1e-9
    )
    cols = ["created", "symbol", "side", "size", "status", "executed", "exec_size"]
    pd.testing.assert_frame_equal(
        a.orders[cols].reset_index(drop=True), b.orders[cols].reset_index(drop=True), check_dtype=False
    )
    assert a.metrics.keys() == b.metrics.keys()
    for key, value in a.metrics.items():
        assert (
            b.metrics[key] == pytest.approx(value, rel=1e-9, abs=1e-12) if value is not None else b.metrics[key] is None
        )


COSTS = [
    {},
    {"commission": 0.1},
    {"commission": 0.1, "slippage": 0.05, "spread_bps": 4.0},
    {"commission_per_share": 0.005, "commission_min": 1.0},
]


@pytest.mark.parametrize("costs", COSTS, ids=["no-costs", "pct", "pct+slip+spread", "per-share"])
@pytest.mark.parametrize(("strategy", "params"), [("sma_cross", {"fast": 5, "slow": 20}), ("buy_hold", {})])
def test_vectorsim_equals_backtrader_with_the_percent_sizer(market, strategy, params, costs):
    spec = RunSpec(strategy=strategy, params=params, symbols=SYMBOLS, **costs)
    assert why_not(spec, market) is None
    expected = run_backtest(spec, market)
    assert_same_run(expected, simulate(spec, market))
    if strategy == "sma_cross":
        assert len(expected.trades) > 10


@pytest.mark.parametrize("sizer_params", [{"stake": 150}, {"stake": 2000}])
def test_vectorsim_equals_backtrader_with_the_fixed_sizer_including_margin_rejections(market, sizer_params):
    spec = RunSpec(
        strategy="sma_cross",
        params={"fast": 5, "slow": 20},
        symbols=SYMBOLS,
        sizer="fixed",
        sizer_params=sizer_params,
        commission=0.1,
    )
    expected = run_backtest(spec, market)
    assert_same_run(expected, simulate(spec, market))


def test_vectorsim_equals_backtrader_with_a_percent_weight(market):
    spec = RunSpec(
        strategy="sma_cross",
        params={"fast": 8, "slow": 40},
        symbols=SYMBOLS,
        sizer_params={"percent": 45},
        commission=0.1,
    )
    assert_same_run(run_backtest(spec, market), simulate(spec, market))


SIGNAL_CASES = [
    ("rsi", {"period": 7, "oversold": 35.0, "exit": 55.0, "overbought": 65.0}),
    ("rsi", {"period": 4, "oversold": 25.0, "exit": 50.0, "overbought": 80.0}),
    ("mean_reversion", {"period": 10, "entry": 1.5, "exit": 0.5}),
    ("mean_reversion", {"period": 20, "entry": 1.0, "exit": 0.0}),
    ("ensemble", {"members": "sma_cross:fast=5,slow=20;rsi:period=7;mean_reversion:period=10", "quorum": 0.3}),
    (
        "ensemble",
        {"members": "sma_cross:fast=5,slow=20;buy_hold;rsi:period=5", "method": "weighted", "weights": "2,1,1"},
    ),
]
SIZERS = [("percent", {}), ("fixed", {"stake": 300})]
COMMISSIONS = [{"commission": 0.1, "slippage": 0.05}, {"commission_per_share": 0.005, "commission_min": 1.0}]


@pytest.fixture(scope="module")
def small_market():
    return generate_market(SYMBOLS[:2], "2016-01-01", "2017-12-31", seed=11)


@pytest.mark.parametrize("costs", COMMISSIONS, ids=["pct+slip", "per-share"])
@pytest.mark.parametrize(("sizer", "sizer_params"), SIZERS, ids=["percent", "fixed"])
@pytest.mark.parametrize(
    ("strategy", "params"), SIGNAL_CASES, ids=[f"{s}-{i}" for i, (s, _) in enumerate(SIGNAL_CASES)]
)
def test_every_builtin_signal_strategy_equals_backtrader(small_market, strategy, params, sizer, sizer_params, costs):
    spec = RunSpec(
        strategy=strategy, params=params, symbols=SYMBOLS[:2], sizer=sizer, sizer_params=sizer_params, **costs
    )
    assert why_not(spec, small_market) is None
    expected = run_backtest(spec, small_market)
    assert len(expected.trades) >= 4  # the signal trades, so the comparison means something
    assert_same_run(expected, simulate(spec, small_market))


@pytest.mark.parametrize(
    ("strategy", "params", "message"),
    [
        ("rsi", {"oversold": 60.0, "exit": 50.0}, "oversold < exit"),
        ("mean_reversion", {"period": 1}, "period >= 2"),
        ("ensemble", {"members": "sma_cross:fast=5,slow=20", "quorum": 1.0}, "quorum"),
        ("ensemble", {"members": "sma_cross:fast=20,slow=5"}, "fast < slow"),
    ],
)
def test_signal_param_errors_are_backtraders(small_market, strategy, params, message):
    spec = RunSpec(strategy=strategy, params=params, symbols=SYMBOLS[:2])
    with pytest.raises(ConfigError, match=message) as fast:
        simulate(spec, small_market)
    with pytest.raises(ConfigError, match=message) as slow:
        run_backtest(spec, small_market)
    assert str(fast.value) == str(slow.value)


def test_too_short_a_run_is_refused_as_backtrader_refuses_it(small_market):
    spec = RunSpec(strategy="sma_cross", params={"fast": 5, "slow": 120}, symbols=SYMBOLS[:2], end="2016-03-31")
    with pytest.raises(ConfigError, match="warm up") as slow:
        run_backtest(spec, small_market)
    with pytest.raises(ConfigError, match="warm up") as fast:
        run(spec, small_market)
    assert str(fast.value) == str(slow.value)


@pytest.mark.parametrize(
    ("spec_kw", "reason"),
    [
        ({"strategy": "sma_cross", "params": {"allow_short": True}}, "short"),
        ({"strategy": "rsi", "params": {"allow_short": True}}, "short"),
        ({"strategy": "mean_reversion", "params": {"allow_short": True}}, "short"),
        ({"strategy": "ensemble", "params": {"members": "sma_cross;rsi", "allow_short": True}}, "short"),
        ({"strategy": "sma_cross", "sizer": "kelly"}, "sizer"),
        ({"strategy": "sma_cross", "risk": {"stop_loss": 0.05}}, "risk"),
    ],
)
def test_unsupported_runs_fall_back_to_backtrader_with_the_reason(market, spec_kw, reason):
    import autostock.sizers.risk_sizers  # noqa: F401  (registers kelly)

    spec = RunSpec(symbols=SYMBOLS, **spec_kw)
    assert reason in why_not(spec, market)
    result, engine = run(spec, market)
    assert engine == "backtrader"
    assert_same_run(run_backtest(spec, market), result)


@pytest.mark.parametrize(
    ("spec_kw", "reason"),
    [
        ({"strategy": "ml_signal", "params": {"predictions": "x.csv"}}, "trained model"),
        ({"strategy": "momentum"}, "not a SignalStrategy"),
        ({"strategy": "ensemble", "params": {"members": "sma_cross;ml_signal:predictions=x.csv"}}, "'ml_signal'"),
        ({"strategy": "ensemble", "params": {"members": "sma_cross;momentum"}}, "'momentum'"),
    ],
)
def test_strategies_without_a_vectorised_signal_say_why(market, spec_kw, reason):
    assert reason in why_not(RunSpec(symbols=SYMBOLS, **spec_kw), market)


def test_invalid_params_raise_the_same_config_error_as_backtrader(market):
    spec = RunSpec(strategy="sma_cross", params={"fast": 30, "slow": 10}, symbols=SYMBOLS)
    with pytest.raises(ConfigError, match="fast < slow"):
        simulate(spec, market)


def test_optimize_uses_the_simulator_and_matches_backtrader_trial_for_trial(market, monkeypatch):
    from autostock.robustness import optimize as opt
    from autostock.robustness.executor import Executor

    spec = RunSpec(strategy="sma_cross", symbols=SYMBOLS, commission=0.1)
    grid = {"fast": [5, 10], "slow": [20, 40]}
    fast = opt.optimize(spec, market, grid, method="grid", executor=Executor(workers=1))
    assert fast.settings["engine"].startswith("vectorsim")

    def backtrader_only(s, m):
        return run_backtest(s, m), "backtrader"

    monkeypatch.setattr("autostock.sim.vectorsim.run", backtrader_only)
    slow = opt.optimize(spec, market, grid, method="grid", executor=Executor(workers=1))
    cols = ["trial", "fast", "slow", "final_value", "objective", "status"]
    pd.testing.assert_frame_equal(fast.table[cols], slow.table[cols], rtol=1e-9)


def test_walk_forward_uses_the_simulator_and_matches_backtrader_fold_for_fold(small_market, monkeypatch):
    from autostock.robustness.walkforward import walk_forward

    spec = RunSpec(strategy="rsi", params={"oversold": 35.0}, symbols=SYMBOLS[:2], commission=0.1)
    grid = {"period": [5, 7], "exit": [50.0, 55.0]}
    fast = walk_forward(spec, small_market, grid, "9m", "6m", executor=Executor(workers=1, progress=False))
    assert fast.settings["engine"].startswith("vectorsim")
    assert len(fast.folds) >= 2

    def backtrader_only(s, m):
        return run_backtest(s, m), "backtrader"

    monkeypatch.setattr("autostock.sim.vectorsim.run", backtrader_only)
    slow = walk_forward(spec, small_market, grid, "9m", "6m", executor=Executor(workers=1, progress=False))
    pd.testing.assert_frame_equal(fast.folds, slow.folds, rtol=1e-9)
    cols = ["fold", "trial", "period", "exit", "final_value", "objective", "status"]
    pd.testing.assert_frame_equal(fast.trials[cols], slow.trials[cols], rtol=1e-9)
    pd.testing.assert_series_equal(fast.oos_returns, slow.oos_returns, rtol=1e-9)
    assert fast.wfe == pytest.approx(slow.wfe, rel=1e-9) if slow.wfe is not None else fast.wfe is None


def test_exact_prefix_sums_give_the_fsum_sma_bit_for_bit():
    import math
    import random

    from autostock.sim.vectorsim import _sma_list

    rng = random.Random(3)
    series = [
        [rng.uniform(0.5, 2000) for _ in range(400)],
        [rng.uniform(-1, 1) * 10 ** rng.uniform(-8, 8) for _ in range(400)],
        [0.1] * 60 + [0.0] * 10 + [1e-300, 1e300, -1e300, 3.0],
    ]
    for values in series:
        for period in (1, 3, 20, 120):
            expected = [math.fsum(values[i - period + 1 : i + 1]) / period for i in range(period - 1, len(values))]
            assert _sma_list(values, period)[period - 1 :] == expected
    assert all(math.isnan(v) for v in _sma_list([1.0, float("nan"), 2.0], 2))  # NaN in a window: NaN, as fsum
