"""A vectorised simulator for signal strategies, giving backtrader's trades and equity.

For a :class:`~autostock.strategies.base.SignalStrategy` whose signal has a NumPy builder here
(``sma_cross``, ``buy_hold``), long only, with the ``percent`` or ``fixed`` sizer, flat costs
(percent or per-share commission, percent slippage/spread) and no risk guard or extra
analyzers, :func:`simulate` replays what :func:`autostock.engine.run_backtest` does bar for bar:
signals are computed for the whole series at once (the same ``math.fsum`` SMA as backtrader),
and only the bars where an order fills are stepped in Python, with backtrader's own
commission object, the submission cash check, the fill-time sizing of
:class:`~autostock.sizers.fill.FillSizingBroker`, and the same slippage caps. The equity is then
marked to every close with array arithmetic. :func:`run` uses it where :func:`why_not`
returns ``None`` and falls back to backtrader otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pandas as pd

from autostock.config import RunSpec
from autostock.feeds.market import Market

SignalBuilder = Callable[[dict[str, np.ndarray], Any], tuple[np.ndarray, int]]
SIGNALS: dict[str, SignalBuilder] = {}


def _sma(close: np.ndarray, period: int) -> np.ndarray:
    """backtrader's ``SMA.once``: ``math.fsum(window) / period``; NaN before ``period`` bars."""
    out = np.full(len(close), np.nan)
    values = close.tolist()
    fsum = math.fsum
    for i in range(period - 1, len(values)):
        out[i] = fsum(values[i - period + 1 : i + 1]) / period
    return out


def _sma_cross(cols: dict[str, np.ndarray], p: Any) -> tuple[np.ndarray, int]:
    close = cols["close"]
    want = np.empty(close.shape, dtype=bool)
    for j in range(close.shape[1]):
        want[:, j] = _sma(close[:, j], p.fast) > _sma(close[:, j], p.slow)
    return want, p.slow


def _buy_hold(cols: dict[str, np.ndarray], p: Any) -> tuple[np.ndarray, int]:
    return np.ones(cols["close"].shape, dtype=bool), 1


SIGNALS["sma_cross"] = _sma_cross
SIGNALS["buy_hold"] = _buy_hold


def why_not(spec: RunSpec, market: Market) -> str | None:
    """``None`` when :func:`simulate` reproduces ``spec`` on ``market``; else the reason it does not."""
    from autostock.engine import resolve_strategy
    from autostock.registry import STRATEGIES

    if spec.strategy not in SIGNALS:
        return f"strategy {spec.strategy!r} has no vectorised signal"
    cls = resolve_strategy(spec.strategy)
    builtin = {"sma_cross": "SmaCross", "buy_hold": "BuyHold"}[spec.strategy]
    if cls.__name__ != builtin or STRATEGIES.source(spec.strategy) != "built-in":
        return f"strategy {spec.strategy!r} is not the built-in class"
    if spec.params.get("allow_short"):
        return "short selling"
    if spec.sizer not in ("percent", "fixed"):
        return f"sizer {spec.sizer!r}"
    if spec.sizer == "percent" and str(spec.sizer_params.get("at_fill", True)).lower() in ("false", "0"):
        return "percent sizer with at_fill=False"
    if spec.risk or getattr(cls, "risk_defaults", None):
        return "risk settings"
    if spec.analyzers:
        return "extra analyzers"
    bars = [market.bars[s] for s in (spec.symbols or market.symbols)]
    index = bars[0].index
    if any(not b.index.equals(index) for b in bars[1:]):
        return "symbols with different calendars"
    if any(b[["open", "high", "low", "close"]].isna().to_numpy().any() for b in bars):
        return "missing prices"
    return None


def _broker_model(spec: RunSpec) -> Any:
    """A backtrader BackBroker carrying the run's costs (its commission object and slippage)."""
    import backtrader as bt

    from autostock.costs import apply_costs

    broker = bt.brokers.BackBroker()
    apply_costs(broker, spec.costs)
    return broker


def _slip(broker: Any, price: float, bound: float, up: bool) -> float:
    fn = broker._slip_up if up else broker._slip_down
    return fn(bound, price, doslip=broker.p.slip_open)


def simulate(spec: RunSpec, market: Market) -> Any:
    """Run ``spec`` over ``market`` (already narrowed) and return a :class:`~autostock.engine.RunResult`."""
    from autostock.engine import (
        ORDER_COLUMNS,
        TRADE_COLUMNS,
        RunResult,
        check_params,
        resolve_sizer,
        resolve_strategy,
    )
    from autostock.errors import ConfigError
    from autostock.reports.metrics import benchmark_returns, compute_metrics
    from autostock.sizers.basic import percent_shares

    cls = resolve_strategy(spec.strategy)
    params = check_params(cls, spec.params, f"strategy {spec.strategy!r}")
    p = cls.param_namespace(**params)
    if spec.strategy == "sma_cross" and not (0 < p.fast < p.slow):
        raise ConfigError(f"sma_cross needs 0 < fast < slow, got fast={p.fast} slow={p.slow}")
    sizer_cls = resolve_sizer(spec.sizer)
    sp = {**dict(sizer_cls.params._getitems()), **check_params(sizer_cls, spec.sizer_params, f"sizer {spec.sizer!r}")}
    symbols = list(spec.symbols or market.symbols)
    index = market.bars[symbols[0]].index
    n, m = len(index), len(symbols)
    if n == 0:
        raise ConfigError("the run produced no bars: check --start/--end and the data")
    cols = {
        c: np.column_stack([market.bars[s][c].to_numpy(dtype=float) for s in symbols])
        for c in ("open", "high", "low", "close")
    }
    want, minperiod = SIGNALS[spec.strategy](cols, p)
    broker = _broker_model(spec)
    comminfo = broker.comminfo[None]
    slip_rate = float(broker.p.slip_perc or 0.0)

    def comm(size: float, price: float) -> float:
        return comminfo.getcommission(size, price)

    if spec.sizer == "percent":
        if sp["percent"] is not None:
            if not (0 < sp["percent"] <= 100):
                raise ConfigError(f"percent sizer: percent must be in (0, 100], got {sp['percent']}")
            weight = sp["percent"] / 100.0
        else:
            weight = 1.0 / m
    elif sp["stake"] <= 0:
        raise ConfigError(f"fixed sizer: stake must be > 0, got {sp['stake']}")
    opens, highs, lows, closes = cols["open"], cols["high"], cols["low"], cols["close"]
    cash = float(spec.cash)
    pos = [0] * m
    entry = [0.0] * m
    entry_info: list[dict[str, Any] | None] = [None] * m
    held = np.zeros((n, m))  # shares after each bar's fills
    cash_after = np.empty(n)
    orders: list[dict[str, Any]] = []
    trades: list[dict[str, Any]] = []
    submitted: list[tuple[int, int, str, int, float]] = []  # (symbol, size, kind, bar, close at creation)
    dates = index.to_pydatetime()
    value = cash
    for t in range(n):
        if submitted:
            # backtrader's check_submitted: pseudo-execute at the creation close, cash chained
            pcash, accepted = cash, []
            for order in submitted:
                j, size, kind, _, pclose = order
                if kind == "sell":
                    pcash += size * pclose
                else:
                    pcash -= size * pclose
                pcash -= comm(size, pclose)
                if pcash >= 0.0:
                    accepted.append(order)
                else:
                    orders.append(_order_row(order, symbols, dates, "Margin", dates[t], 0, 0.0, 0.0))
            run_first = [o for o in accepted if o[2] != "fill"]
            run_last = [o for o in accepted if o[2] == "fill"]
            for order in run_first + run_last:
                j, size, kind, _, pclose = order
                popen = opens[t, j]
                if kind == "sell":
                    price = _slip(broker, popen, lows[t, j], up=False)
                    c = comm(size, price)
                    pnl = size * (price - entry[j])
                    cash += size * entry[j] + pnl - c
                    slip_cost = round(abs(price - popen) * size, 8)
                    info = cast(dict[str, Any], entry_info[j])  # set when the position opened
                    trades.append(
                        {
                            "symbol": symbols[j],
                            "direction": "long",
                            "entry_date": dates[info["bar"]].isoformat(),
                            "entry_price": entry[j],
                            "exit_date": dates[t].isoformat(),
                            "exit_price": price,
                            "size": float(size),
                            "bars": t - info["bar"],
                            "pnl": pnl,
                            "commission": info["comm"] + c,
                            "slippage_cost": info["slip"] + slip_cost,
                            "pnl_after_costs": pnl - (info["comm"] + c),
                        }
                    )
                    pos[j] = 0
                    orders.append(
                        _order_row(
                            order, symbols, dates, "Completed", dates[t], -size, price, c, slip_cost, exec_price=price
                        )
                    )
                    continue
                price = _slip(broker, popen, highs[t, j], up=True)
                if kind == "fill":
                    equity = cash + sum(pos[k] * opens[t, k] for k in range(m) if pos[k])
                    size = percent_shares(equity, cash, price, weight, 0.0, comm)
                    if size <= 0:
                        orders.append(_order_row(order, symbols, dates, "Canceled", None, 0, 0.0, 0.0))
                        continue
                c = comm(size, price)
                if cash - size * price - c < 0.0:
                    orders.append(_order_row(order, symbols, dates, "Margin", dates[t], 0, 0.0, 0.0))
                    continue
                cash -= size * price
                cash -= c
                pos[j], entry[j] = size, price
                slip_cost = round(abs(price - popen) * size, 8)
                entry_info[j] = {"bar": t, "comm": c, "slip": slip_cost}
                orders.append(
                    _order_row(
                        order, symbols, dates, "Completed", dates[t], size, price, c, slip_cost, exec_price=price
                    )
                )
            submitted = []
        held[t] = pos
        cash_after[t] = cash
        value = cash + sum(pos[k] * closes[t, k] for k in range(m) if pos[k])
        if t + 1 < minperiod:
            continue
        for j in range(m):
            w = bool(want[t, j])
            have = pos[j] > 0
            if w == have:
                continue
            if have:
                submitted.append((j, pos[j], "sell", t, closes[t, j]))
            elif spec.sizer == "fixed":
                size = max(int(sp["stake"]), 0)
                if size:
                    submitted.append((j, size, "fixed", t, closes[t, j]))
            else:
                free = cash
                for _k, s_, kind_, _, pc in submitted:
                    free = free + s_ * pc if kind_ == "sell" else free - s_ * pc
                    free -= comm(s_, pc)
                size = percent_shares(value, free, closes[t, j], weight, slip_rate, comm, sp["cash_buffer"])
                if size > 0:
                    submitted.append((j, size, "fill", t, closes[t, j]))
    values = cash_after + (held * closes).sum(axis=1)
    equity = pd.DataFrame({"value": values, "cash": cash_after}, index=pd.DatetimeIndex(index, name="date"))
    equity["returns"] = equity["value"].pct_change()
    equity.iloc[0, equity.columns.get_loc("returns")] = equity["value"].iloc[0] / spec.cash - 1.0
    trades_df = pd.DataFrame(trades, columns=TRADE_COLUMNS)
    orders_df = pd.DataFrame(orders, columns=ORDER_COLUMNS)
    held_rows, held_cols = np.nonzero(held)
    positions = pd.DataFrame(
        {
            "date": index[held_rows],
            "symbol": np.array(symbols, dtype=object)[held_cols],
            "size": held[held_rows, held_cols],
            "value": held[held_rows, held_cols] * closes[held_rows, held_cols],
        }
    )
    bench = benchmark_returns(market, equity.index)
    metrics = compute_metrics(equity["returns"], bench, trades_df)
    full = dict(cls.params._getitems())
    full.update(params)
    return RunResult(
        spec,
        market,
        full,
        equity,
        trades_df,
        orders_df,
        positions,
        bench,
        metrics,
        {"simulator": {"engine": "vectorsim"}},
    )


def _order_row(
    order: tuple,
    symbols: list[str],
    dates: Any,
    status: str,
    executed: Any,
    exec_size: float,
    price: float,
    commission: float,
    slip: float = 0.0,
    exec_price: float | None = None,
) -> dict[str, Any]:
    j, size, kind, bar, _ = order
    sign = -1 if kind == "sell" else 1
    return {
        "ref": None,
        "created": dates[bar].isoformat(),
        "symbol": symbols[j],
        "side": "sell" if kind == "sell" else "buy",
        "type": "Market",
        "size": sign * size,
        "status": status,
        "executed": executed.isoformat() if executed is not None else None,
        "exec_price": exec_price,
        "exec_size": exec_size,
        "commission": commission,
        "slippage_cost": slip,
    }


def run(spec: RunSpec, market: Market) -> tuple[Any, str]:
    """``(RunResult, engine)``: the vectorised simulator where it applies, else backtrader."""
    from autostock.engine import market_for, run_backtest

    narrowed = market_for(spec, market)
    if why_not(spec, narrowed) is None:
        return simulate(spec, narrowed), "vectorsim"
    return run_backtest(spec, market), "backtrader"


def engine_note(spec: RunSpec, market: Market) -> str:
    """What runs each trial/path of ``spec``: ``vectorsim`` or ``backtrader (<why>)``."""
    from autostock.engine import market_for

    reason = why_not(spec, market_for(spec, market))
    return "vectorsim (vectorised, same trades as backtrader)" if reason is None else f"backtrader ({reason})"
