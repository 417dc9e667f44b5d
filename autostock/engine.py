"""The one place a Cerebro is assembled, and the backtest run on top of it.

Modes differ only in the feeds and the broker handed to :func:`build_cerebro`: historical
feeds and backtrader's simulated broker for backtests, resampled feeds for Monte Carlo, fold
slices for walk-forward, Alpaca's data and broker for paper / live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import backtrader as bt
import pandas as pd

from autostock.analyzers.recorder import Recorder
from autostock.config import RunSpec, parse_value
from autostock.costs import apply_costs
from autostock.errors import ConfigError, PluginError
from autostock.feeds.btfeed import FrameFeed
from autostock.feeds.market import Market
from autostock.registry import ANALYZERS, SIZERS, STRATEGIES
from autostock.sizers.fill import FillSizingBroker


def resolve_strategy(name: str) -> type[bt.Strategy]:
    cls = STRATEGIES.get(name)
    if not (isinstance(cls, type) and issubclass(cls, bt.Strategy)):
        raise PluginError(f"{name!r} is not a backtrader Strategy class")
    return cls


def resolve_sizer(name: str) -> type[bt.Sizer]:
    cls = SIZERS.get(name)
    if not (isinstance(cls, type) and issubclass(cls, bt.Sizer)):
        raise PluginError(f"{name!r} is not a backtrader Sizer class")
    return cls


def check_params(cls: type, params: dict[str, Any], what: str) -> dict[str, Any]:
    """Validate ``params`` against ``cls``'s backtrader params; coerce to the defaults' types."""
    defaults = dict(cls.params._getitems())
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        valid = ", ".join(f"{k}={v!r}" for k, v in sorted(defaults.items())) or "(none)"
        raise ConfigError(f"unknown {what} param(s) {', '.join(unknown)}; valid: {valid}")
    out = {}
    for key, value in params.items():
        default = defaults[key]
        if isinstance(value, str) and not isinstance(default, str):
            value = parse_value(value)
        try:
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError
            elif isinstance(default, int) and not isinstance(value, bool):
                if float(value) != int(float(value)):
                    raise ValueError
                value = int(float(value))
            elif isinstance(default, float):
                value = float(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{what} param {key}={value!r}: expected {type(default).__name__} like the default {default!r}"
            ) from None
        out[key] = value
    return out


def make_feed(symbol: str, bars: pd.DataFrame) -> FrameFeed:
    """A backtrader data feed over validated bars."""
    return FrameFeed(dataname=bars, name=symbol)


def build_cerebro(
    spec: RunSpec,
    market: Market,
    broker: bt.BrokerBase | None = None,
    feeds: dict[str, bt.AbstractDataBase] | None = None,
    record: bool = True,
    pyfolio: bool = False,
) -> bt.Cerebro:
    """Assemble a Cerebro for ``spec``: feeds, strategy, sizer, costs, risk guard, analyzers.

    ``broker`` replaces backtrader's simulated broker (live mode); ``feeds`` replaces the
    historical feeds built from ``market`` (live data). Everything else is identical in every mode.
    """
    strategy_cls = resolve_strategy(spec.strategy)
    params = check_params(strategy_cls, spec.params, f"strategy {spec.strategy!r}")
    sizer_cls = resolve_sizer(spec.sizer)
    sizer_params = check_params(sizer_cls, spec.sizer_params, f"sizer {spec.sizer!r}")

    cerebro = bt.Cerebro(stdstats=False, tradehistory=True, quicknotify=True)
    cerebro.autostock_spec = spec
    cerebro.autostock_guard = None
    symbols = spec.symbols or market.symbols
    if feeds is None:
        for sym in symbols:
            if sym not in market.bars:
                raise ConfigError(f"symbol {sym} not in the loaded data ({', '.join(market.symbols)})")
            cerebro.adddata(make_feed(sym, market.bars[sym]), name=sym)
    else:
        for sym, feed in feeds.items():
            cerebro.adddata(feed, name=sym)

    if broker is not None:
        cerebro.setbroker(broker)
    else:
        cerebro.setbroker(FillSizingBroker())  # percent entries sized at their fill price
        cerebro.broker.setcash(spec.cash)
        apply_costs(cerebro.broker, spec.commission, spec.commission_per_share, spec.commission_min,
                    spec.slippage, spec.spread_bps)
    cerebro.addstrategy(strategy_cls, **params)
    cerebro.addsizer(sizer_cls, **sizer_params)
    if record:
        cerebro.addanalyzer(Recorder, _name="recorder")
    if pyfolio:
        cerebro.addanalyzer(bt.analyzers.PyFolio, _name="pyfolio")
    for name in spec.analyzers:
        cerebro.addanalyzer(ANALYZERS.get(name), _name=name)
    if spec.risk or getattr(strategy_cls, "risk_defaults", None):
        from autostock.risk import install

        install(cerebro, spec, market)
    return cerebro


@dataclass
class RunResult:
    """What one run produced; every report is derived from it."""

    spec: RunSpec
    market: Market
    params: dict[str, Any]
    equity: pd.DataFrame
    trades: pd.DataFrame
    orders: pd.DataFrame
    positions: pd.DataFrame
    benchmark_returns: pd.Series | None
    metrics: dict[str, Any]
    analyses: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    pyfolio: dict[str, Any] | None = None

    @property
    def returns(self) -> pd.Series:
        return self.equity["returns"]

    @property
    def final_value(self) -> float:
        return float(self.equity["value"].iloc[-1])


TRADE_COLUMNS = ["symbol", "direction", "entry_date", "entry_price", "exit_date", "exit_price", "size", "bars",
                 "pnl", "commission", "slippage_cost", "pnl_after_costs"]
ORDER_COLUMNS = ["ref", "created", "symbol", "side", "type", "size", "status", "executed", "exec_price",
                 "exec_size", "commission", "slippage_cost"]


def collect(spec: RunSpec, market: Market, strategy: bt.Strategy, pyfolio: bool = False) -> RunResult:
    """Turn a finished strategy's analyzers into a :class:`RunResult` with metrics."""
    from autostock.reports.metrics import benchmark_returns, compute_metrics

    rec = strategy.analyzers.recorder
    equity = pd.DataFrame(rec.equity, columns=["date", "value", "cash"]).set_index("date")
    if equity.empty:
        raise ConfigError("the run produced no bars: check --start/--end and the data")
    equity.index = pd.DatetimeIndex(equity.index, name="date")
    equity["returns"] = equity["value"].pct_change()
    equity.iloc[0, equity.columns.get_loc("returns")] = equity["value"].iloc[0] / spec.cash - 1.0
    trades = pd.DataFrame(rec.trades, columns=TRADE_COLUMNS)
    orders = pd.DataFrame(rec.orders, columns=ORDER_COLUMNS)
    positions = pd.DataFrame(rec.positions, columns=["date", "symbol", "size", "value"])
    bench = benchmark_returns(market, equity.index)
    metrics = compute_metrics(equity["returns"], bench, trades)
    analyses = {}
    for name in strategy.analyzers.getnames():
        if name in ("recorder", "pyfolio"):
            continue
        analyses[name] = getattr(strategy.analyzers, name).get_analysis()
    pf = None
    if pyfolio:
        ret, pos, txn, lev = strategy.analyzers.pyfolio.get_pf_items()
        pf = {"returns": ret, "positions": pos, "transactions": txn, "gross_lev": lev}
    params = dict(strategy.params._getkwargs())
    events = list(getattr(strategy.env, "autostock_events", []))
    return RunResult(spec, market, params, equity, trades, orders, positions, bench, metrics, analyses, events, pf)


def market_for(spec: RunSpec, market: Market) -> Market:
    """``market`` narrowed to the spec's symbols and dates."""
    if spec.symbols:
        market = market.select(spec.symbols)
    if spec.start or spec.end:
        market = market.slice(spec.start, spec.end)
    return market


def run_backtest(spec: RunSpec, market: Market, pyfolio: bool = False) -> RunResult:
    """Run ``spec`` over ``market`` with backtrader's simulated broker."""
    market = market_for(spec, market)
    cerebro = build_cerebro(spec, market, pyfolio=pyfolio)
    strategy = cerebro.run()[0]
    return collect(spec, market, strategy, pyfolio=pyfolio)
