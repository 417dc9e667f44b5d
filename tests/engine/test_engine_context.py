"""The run context: one typed object the builder creates and hands to plugins; analyzers observe only."""

from __future__ import annotations

import ast
from pathlib import Path

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from autostock.config import RunSpec
from autostock.context import RunContext, context_of
from autostock.engine import assemble, build_cerebro, check_params, run_backtest
from autostock.errors import ConfigError
from autostock.feeds.market import Market
from autostock.strategies.base import BaseStrategy

PACKAGE = Path(__file__).resolve().parents[2] / "autostock"


def crash_market() -> Market:
    close = np.concatenate([np.linspace(100, 110, 40), 110 * 0.93 ** np.arange(1, 6), np.linspace(80, 90, 20)])
    dates = pd.bdate_range("2021-01-04", periods=len(close), name="date")
    open_ = np.concatenate([[close[0]], close[:-1]])
    bars = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": 1e6,
        },
        index=dates,
    )
    return Market(bars={"AAPL": bars}, source="crafted", synthetic=True)


def test_builder_hands_every_plugin_the_same_typed_context_and_sets_nothing_on_the_cerebro(small_market) -> None:
    spec = RunSpec(strategy="sma_cross", symbols=["AAPL", "MSFT"], sizer="fixed_fraction", risk={"stop_loss": 0.05})
    cerebro, ctx = assemble(spec, small_market)
    assert isinstance(ctx, RunContext) and ctx.spec is spec
    assert ctx.guard is not None and ctx.guard.settings.stop_loss == 0.05
    assert ctx.sectors == {"AAPL": "Technology", "MSFT": "Technology"}
    assert not [name for name in vars(cerebro) if name.startswith("autostock")]
    strategy = cerebro.run()[0]
    assert strategy.context is ctx and context_of(strategy) is ctx
    assert context_of(strategy.getsizer()) is None  # a sizer reaches it through its strategy
    assert strategy.getsizer().guard_setting("stop_loss") == 0.05


def test_no_module_reads_or_writes_autostock_attributes_on_the_cerebro() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("autostock_"):
                offenders.append(f"{path.name}:{node.lineno} {node.attr}")
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in ("autostock_guard", "autostock_events", "autostock_spec")
            ):
                offenders.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert offenders == []


def test_context_param_is_not_a_user_setting_and_not_reported(small_market) -> None:
    from autostock.strategies.sma_cross import SmaCross

    with pytest.raises(ConfigError, match=r"param\(s\) context; valid: allow_short=False, fast=10, slow=30$"):
        check_params(SmaCross, {"context": 1}, "strategy 'sma_cross'")
    result = run_backtest(RunSpec(strategy="sma_cross", symbols=["AAPL"]), small_market)
    assert "context" not in result.params and result.params["fast"] == 10


def test_kill_switch_events_reach_the_result_through_the_context() -> None:
    spec = RunSpec(strategy="buy_hold", symbols=["AAPL"], risk={"max_drawdown": 0.1})
    result = run_backtest(spec, crash_market())
    kills = [e for e in result.events if e["type"] == "kill_switch"]
    assert len(kills) == 1 and kills[0]["label"].startswith("kill switch (-")
    assert result.positions.empty or pd.Timestamp(result.positions["date"].max()) <= pd.Timestamp(
        kills[0]["date"]
    ) + pd.offsets.BDay(1)


def test_risk_analyzers_only_observe() -> None:
    from autostock.risk.exposure import Exposure
    from autostock.risk.monitor import RiskMonitor

    acting = (
        "buy",
        "sell",
        "close",
        "cancel",
        "order_target",
        "kill",
        "trim",
        "place_stops",
        "on_bar",
        "on_order",
        "submit",
    )
    for cls in (RiskMonitor, Exposure):
        tree = ast.parse(Path(__import__(cls.__module__, fromlist=["x"]).__file__).read_text())
        calls = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
        assert not calls & set(acting), (cls.__name__, calls & set(acting))


def test_a_subclass_overriding_notify_order_without_super_keeps_its_stops() -> None:
    class Stubborn(BaseStrategy):
        def __init__(self) -> None:
            self.sent = False

        def notify_order(self, order: bt.Order) -> None:  # no super() call
            pass

        def next(self) -> None:
            if not self.sent:
                self.sent = True
                self.buy(size=10)

    spec = RunSpec(strategy=f"{__name__}:Stubborn", symbols=["AAPL"], risk={"stop_loss": 0.05})
    globals()["Stubborn"] = Stubborn
    try:
        result = run_backtest(spec, crash_market())
    finally:
        del globals()["Stubborn"]
    assert result.analyses["risk_guard"]["stops"] == {"stop_loss": 1}
    assert (
        result.positions["size"].iloc[-1] == 10
        and result.positions["date"].max() < crash_market().bars["AAPL"].index[-1]
    )


def test_risk_settings_with_a_plain_backtrader_strategy_are_refused_in_one_line(small_market) -> None:
    class Plain(bt.Strategy):
        pass

    globals()["Plain"] = Plain
    try:
        with pytest.raises(ConfigError, match="derived from autostock.strategies.base.BaseStrategy"):
            build_cerebro(
                RunSpec(strategy=f"{__name__}:Plain", symbols=["AAPL"], risk={"stop_loss": 0.05}), small_market
            )
        build_cerebro(RunSpec(strategy=f"{__name__}:Plain", symbols=["AAPL"]), small_market)  # fine without risk
    finally:
        del globals()["Plain"]


def test_reports_do_not_import_the_engine() -> None:
    for path in (PACKAGE / "reports").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "autostock.engine", path.name
            if isinstance(node, ast.Import):
                assert all(a.name != "autostock.engine" for a in node.names), path.name


def test_a_backtest_context_provides_the_loaded_bars_columns_beyond_ohlcv() -> None:
    market = crash_market()
    bars = market.bars["AAPL"]
    plain = assemble(RunSpec(strategy="buy_hold", symbols=["AAPL"]), market)[1]
    assert plain.bar_columns is None  # OHLCV only: nothing to provide
    news = bars.assign(news_count=np.arange(len(bars), dtype=float))
    ctx = assemble(RunSpec(strategy="buy_hold", symbols=["AAPL"]), Market({"AAPL": news}, "crafted"))[1]
    when = pd.DatetimeIndex([bars.index[3], bars.index[0] - pd.Timedelta(days=1)])
    got = ctx.bar_columns("AAPL", when)
    assert list(got.columns) == ["news_count"] and got["news_count"].iloc[0] == 3.0 and np.isnan(got.iloc[1, 0])
    live = assemble(RunSpec(strategy="buy_hold", symbols=["AAPL"]), market, bar_columns=lambda s, i: None)[1]
    assert live.bar_columns is not None and live.bar_columns("AAPL", when) is None  # a given provider wins
