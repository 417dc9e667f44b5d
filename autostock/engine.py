"""The one place a Cerebro is assembled, and the backtest run on top of it.

Modes differ only in the feeds and the broker handed to :func:`build_cerebro`: historical
feeds and backtrader's simulated broker for backtests, resampled feeds for Monte Carlo, fold
slices for walk-forward, Alpaca's data and broker for paper / live.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import backtrader as bt
import pandas as pd

from autostock.analyzers.pyfolio import PyFolioFast, pyfolio_items
from autostock.analyzers.recorder import Recorder
from autostock.config import RunSpec, parse_value
from autostock.context import RESERVED_PARAMS, RunContext, context_of
from autostock.costs import apply_costs
from autostock.errors import ConfigError, PluginError
from autostock.feeds.btfeed import FrameFeed
from autostock.feeds.market import Market
from autostock.registry import ANALYZERS, SIZERS, STRATEGIES
from autostock.result import (
    EQUITY_COLUMNS,
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    TRADE_COLUMNS,
    RunResult,
)
from autostock.sizers.fill import FillSizingBroker

__all__ = ["RunResult", "build_cerebro", "check_params", "collect", "market_for", "run_backtest"]


def resolve_strategy(name: str, spec: RunSpec | None = None) -> type[bt.Strategy]:
    """The backtrader Strategy class ``name`` refers to (looked up once per ``spec`` when given)."""
    cls = spec.strategy_class() if spec is not None and spec.strategy == name else STRATEGIES.get(name)
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
    defaults = {k: v for k, v in cls.params._getitems() if k not in RESERVED_PARAMS}  # type: ignore[attr-defined]
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
    """A backtrader data feed over validated bars (with quote lines when the bars carry quotes)."""
    from autostock.quote_fill import QuoteFrameFeed, has_quotes

    return (QuoteFrameFeed if has_quotes(bars) else FrameFeed)(dataname=bars, name=symbol)


def build_cerebro(
    spec: RunSpec,
    market: Market,
    broker: bt.BrokerBase | None = None,
    feeds: dict[str, bt.AbstractDataBase] | None = None,
    record: bool = True,
    pyfolio: bool = False,
    bar_columns: Callable[[str, Any], Any] | None = None,
) -> bt.Cerebro:
    """Assemble a Cerebro for ``spec``: feeds, strategy, sizer, costs, risk guard, analyzers.

    ``broker`` replaces backtrader's simulated broker (live mode); ``feeds`` replaces the
    historical feeds built from ``market`` (live data). Everything else is identical in every mode.
    The run's :class:`~autostock.context.RunContext` reaches the plugins as the strategy's
    ``context`` param (see :func:`assemble` to get it back as well). ``bar_columns`` becomes the
    context's provider of extra per-bar columns (live news); without it, a run on ``market``'s
    own bars provides their columns beyond OHLCV (:func:`autostock.context.market_columns`).
    """
    return assemble(spec, market, broker, feeds, record, pyfolio, bar_columns)[0]


def assemble(
    spec: RunSpec,
    market: Market,
    broker: bt.BrokerBase | None = None,
    feeds: dict[str, bt.AbstractDataBase] | None = None,
    record: bool = True,
    pyfolio: bool = False,
    bar_columns: Callable[[str, Any], Any] | None = None,
) -> tuple[bt.Cerebro, RunContext]:
    """:func:`build_cerebro`, returning the Cerebro and the run context it created."""
    from autostock.strategies.base import BaseStrategy

    strategy_cls = resolve_strategy(spec.strategy, spec)
    params = check_params(strategy_cls, spec.params, f"strategy {spec.strategy!r}")
    sizer_cls = resolve_sizer(spec.sizer)
    sizer_params = check_params(sizer_cls, spec.sizer_params, f"sizer {spec.sizer!r}")

    # quicknotify: a live fill between bars reaches the strategy and the risk guard at once; in a
    # backtest every notification is delivered before next() either way, and batching is cheaper.
    # tradehistory is off unless the strategy class asks for it (``needs_trade_history = True``,
    # to read ``trade.history`` in notify_trade): the recorder books trades from the executions.
    history = bool(getattr(strategy_cls, "needs_trade_history", False))
    cerebro = bt.Cerebro(stdstats=False, tradehistory=history, quicknotify=broker is not None)
    if bar_columns is None and feeds is None:  # a backtest: served predictors read the loaded bars' columns
        from autostock.context import market_columns

        bar_columns = market_columns(market.bars)
    context = RunContext(spec=spec, bar_columns=bar_columns)
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
        from autostock.quote_fill import QuoteBroker, has_quotes

        quoted = feeds is None and any(has_quotes(market.bars[s]) for s in symbols)
        if quoted:  # fills at the next quote's bid / ask replace the flat --spread
            cerebro.setbroker(QuoteBroker(impact=spec.quote_impact))
        else:
            cerebro.setbroker(FillSizingBroker())  # percent entries sized at their fill price
        cerebro.broker.setcash(spec.cash)
        apply_costs(cerebro.broker, replace(spec.costs, spread_bps=0.0) if quoted else spec.costs)
    is_base = issubclass(strategy_cls, BaseStrategy)
    cerebro.addstrategy(strategy_cls, **params, **({"context": context} if is_base else {}))
    cerebro.addsizer(sizer_cls, **sizer_params)
    if record:
        cerebro.addanalyzer(Recorder, _name="recorder")
    if pyfolio:
        cerebro.addanalyzer(PyFolioFast, _name="pyfolio")
    for name in spec.analyzers:
        cerebro.addanalyzer(ANALYZERS.get(name), _name=name)
    if spec.risk or getattr(strategy_cls, "risk_defaults", None):
        if not is_base:
            raise ConfigError(
                f"risk settings need a strategy derived from autostock.strategies.base.BaseStrategy; "
                f"{spec.strategy!r} is a plain backtrader Strategy"
            )
        from autostock.risk import install

        install(cerebro, context, market, spec.risk_settings())
    return cerebro, context


def collect(
    spec: RunSpec, market: Market, strategy: bt.Strategy, pyfolio: bool = False, context: RunContext | None = None
) -> RunResult:
    """Turn a finished strategy's analyzers into a :class:`RunResult` with metrics.

    ``context`` (default: the strategy's own) supplies the run's event log.
    """
    from autostock.reports.metrics import benchmark_returns, compute_metrics

    rec = strategy.analyzers.recorder
    equity = pd.DataFrame(rec.equity, columns=EQUITY_COLUMNS).set_index("date")
    if equity.empty:
        raise ConfigError("the run produced no bars: check --start/--end and the data")
    equity.index = pd.DatetimeIndex(equity.index, name="date")
    equity["returns"] = equity["value"].pct_change()
    equity.iloc[0, equity.columns.get_loc("returns")] = equity["value"].iloc[0] / spec.cash - 1.0
    trades = pd.DataFrame(rec.trades, columns=TRADE_COLUMNS)
    orders = pd.DataFrame(rec.orders, columns=ORDER_COLUMNS)
    positions = pd.DataFrame(rec.positions, columns=POSITION_COLUMNS)
    bench = benchmark_returns(market, equity.index)
    metrics = compute_metrics(equity["returns"], bench, trades)
    analyses = {}
    for name in strategy.analyzers.getnames():
        if name in ("recorder", "pyfolio"):
            continue
        analyses[name] = getattr(strategy.analyzers, name).get_analysis()
    pf = None
    if pyfolio:
        pf = pyfolio_items(strategy.analyzers.pyfolio)
    params = {k: v for k, v in strategy.params._getkwargs().items() if k not in RESERVED_PARAMS}
    context = context or context_of(strategy)
    events = list(context.events) if context is not None else []
    return RunResult(spec, market, params, equity, trades, orders, positions, bench, metrics, analyses, events, pf)


def market_for(spec: RunSpec, market: Market) -> Market:
    """``market`` narrowed to the spec's symbols and dates."""
    if spec.symbols:
        market = market.select(spec.symbols)
    if spec.start or spec.end:
        market = market.slice(spec.start, spec.end)
    return market


def before_run(spec: RunSpec, market: Market) -> RunSpec:
    """``spec`` after its strategy's ``before_run(spec, market)`` hook (training that must happen
    before ``cerebro.run``, e.g. ml_signal with a predictor name); ``spec`` when it has none."""
    hook = getattr(resolve_strategy(spec.strategy), "before_run", None)
    return hook(spec, market) if hook is not None else spec


def run_backtest(spec: RunSpec, market: Market, pyfolio: bool = False) -> RunResult:
    """Run ``spec`` over ``market`` with backtrader's simulated broker (models train first)."""
    market = market_for(spec, market)
    cerebro, context = assemble(before_run(spec, market), market, pyfolio=pyfolio)
    strategy = cerebro.run()[0]
    result = collect(spec, market, strategy, pyfolio=pyfolio, context=context)
    hook = getattr(spec.strategy_class(), "run_facts", None)
    facts = hook(spec, market) if hook is not None else {}
    if facts:  # e.g. ml_signal: tuned_on_overlap, with a warning note the reports print
        result.metrics.update(facts.get("metrics", {}))
        result.market = dataclasses.replace(result.market, notes=[*result.market.notes, *facts.get("notes", [])])
    return result
