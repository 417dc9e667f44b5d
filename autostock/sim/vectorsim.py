"""A vectorised simulator for signal strategies, giving backtrader's trades and equity.

For a :class:`~autostock.strategies.base.SignalStrategy` whose signal has a NumPy builder here
(``sma_cross``, ``buy_hold``, ``rsi``, ``mean_reversion`` and an ``ensemble`` of those), long only, with the ``percent`` or ``fixed`` sizer, flat costs
(percent or per-share commission, percent slippage/spread) and no risk guard or extra
analyzers, :func:`simulate` replays what :func:`autostock.engine.run_backtest` does bar for bar:
signals are computed for the whole series at once with backtrader's own arithmetic (its
``math.fsum`` SMA, Wilder's SMMA seeded with the mean, the same ``** 0.5`` standard deviation),
and only the bars where an order fills are stepped in Python, with backtrader's own
commission object, the submission cash check, the fill-time sizing of
:class:`~autostock.sizers.fill.FillSizingBroker`, and the same slippage caps. The equity is then
marked to every close with array arithmetic. :func:`run` uses it where :func:`why_not`
returns ``None`` and falls back to backtrader otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import accumulate
from typing import Any, cast

import numpy as np
import pandas as pd

from autostock.config import RunSpec
from autostock.feeds.market import Market

SignalBuilder = Callable[[dict[str, np.ndarray], Any], tuple[np.ndarray, int]]
SIGNALS: dict[str, SignalBuilder] = {}
BUILTIN_CLASSES = {
    "sma_cross": "SmaCross",
    "buy_hold": "BuyHold",
    "rsi": "RsiReversion",
    "mean_reversion": "MeanReversion",
    "ensemble": "Ensemble",
}
NO_SIGNAL = {
    "ml_signal": "its signal is a trained model's predictions (features, training and prediction per bar)",
    "momentum": "it ranks symbols and rebalances on a calendar (not a SignalStrategy)",
    "sector_rotation": "it ranks symbols and rebalances on a calendar (not a SignalStrategy)",
    "rl_policy": "its decisions come from a trained policy, not a signal line",
}
NAN = float("nan")


def _windows_fsum(values: list[float], period: int) -> list[float]:
    """``math.fsum`` of each trailing ``period`` window (NaN before ``period`` values)."""
    fsum = math.fsum
    out = [NAN] * len(values)
    for i in range(period - 1, len(values)):
        out[i] = fsum(values[i - period + 1 : i + 1])
    return out


class _ExactSums:
    """Exact prefix sums of a series of floats: each float is an integer over a power of two."""

    def __init__(self, values: list[float]) -> None:
        self.values = values
        try:
            ratios = [v.as_integer_ratio() for v in values]
        except (OverflowError, ValueError):  # inf / NaN: fall back to fsum's own rules
            self.prefix: list[int] | None = None
            return
        shift = max((d.bit_length() for _, d in ratios), default=1)
        self.scale = 1 << (shift - 1)
        self.prefix = [0, *accumulate(n << (shift - d.bit_length()) for n, d in ratios)]

    def sma(self, period: int) -> list[float]:
        """backtrader's ``SMA.once``: ``math.fsum(window) / period``, NaN before ``period`` values.

        ``math.fsum`` is the correctly rounded exact sum and ``int / int`` rounds correctly, so
        ``(prefix[i] - prefix[i - period]) / scale`` is the same float without summing every window.
        """
        n = len(self.values)
        if self.prefix is None:
            return [s / period for s in _windows_fsum(self.values, period)]
        if period > n:
            return [NAN] * n
        scale, prefix = self.scale, self.prefix
        return [NAN] * (period - 1) + [(a - b) / scale / period for a, b in zip(prefix[period:], prefix)]


def _sma_list(values: list[float], period: int) -> list[float]:
    """backtrader's ``SMA.once`` (``Average``): ``math.fsum(window) / period``; NaN before ``period`` values."""
    return _ExactSums(values).sma(period)


def _sma(close: np.ndarray, period: int) -> np.ndarray:
    """backtrader's ``SMA.once``: ``math.fsum(window) / period``; NaN before ``period`` bars."""
    return np.array(_sma_list(close.tolist(), period), dtype=float)


def _band(
    x: list[float], start: int, long_entry: float, long_exit: float, short_entry: float, short_exit: float
) -> list[float]:
    """:class:`~autostock.strategies.hysteresis.Band`'s state machine from index ``start`` (its minperiod - 1)."""
    out = [NAN] * len(x)
    prev = 0.0
    for i in range(start, len(x)):
        v = x[i]
        state = prev
        if (prev > 0 and v > long_exit) or (prev < 0 and v < short_exit):
            state = 0.0
        if state == 0.0:
            if v < long_entry:
                state = 1.0
            elif v > short_entry:
                state = -1.0
        out[i] = prev = state
    return out


def _rsi_list(c: list[float], period: int) -> list[float]:
    """backtrader's ``RSI(safediv=True)``: Wilder's SMMA of up/down moves, seeded with their mean.

    ``UpDay = max(c - c[-1], 0)``; the SMMA (``ExponentialSmoothing``, alpha ``1/period``)
    starts at index ``period`` with ``fsum(up[1:period+1]) / period``, then
    ``prev * (1 - alpha) + up * alpha``; ``rs = up/down`` with 0/0 -> 1 and x/0 -> inf.
    """
    n = len(c)
    out = [NAN] * n
    if n <= period:
        return out
    up = [NAN] + [max([c[i] - c[i - 1], 0.0]) for i in range(1, n)]
    down = [NAN] + [max([c[i - 1] - c[i], 0.0]) for i in range(1, n)]
    alpha = 1.0 / period
    alpha1 = 1.0 - alpha
    mu = math.fsum(up[1 : period + 1]) / period
    md = math.fsum(down[1 : period + 1]) / period
    inf = float("inf")
    for i in range(period, n):
        if i > period:
            mu = mu * alpha1 + up[i] * alpha
            md = md * alpha1 + down[i] * alpha
        if md == 0.0:
            rs = 1.0 if mu == 0.0 else inf
        else:
            rs = mu / md
        out[i] = 100.0 - 100.0 / (1.0 + rs)
    return out


def _zscore_list(c: list[float], period: int) -> list[float]:
    """:class:`~autostock.strategies.mean_reversion.ZScore` as backtrader computes it:
    ``(c - SMA) / |SMA(c**2) - SMA**2| ** 0.5``, 0 where the deviation is 0."""
    mean = _sma_list(c, period)
    meansq = _sma_list([v**2 for v in c], period)
    out = [NAN] * len(c)
    for i in range(period - 1, len(c)):
        std = abs(meansq[i] - mean[i] ** 2) ** 0.5
        out[i] = (c[i] - mean[i]) / std if std else 0.0
    return out


def _columns(cols: dict[str, np.ndarray], fn: Callable[[list[float]], list[float]]) -> np.ndarray:
    close = cols["close"]
    out = np.empty(close.shape)
    for j in range(close.shape[1]):
        out[:, j] = fn(close[:, j].tolist())
    return out


def _sma_cross(cols: dict[str, np.ndarray], p: Any) -> tuple[np.ndarray, int]:
    from autostock.errors import ConfigError

    if not (0 < p.fast < p.slow):
        raise ConfigError(f"sma_cross needs 0 < fast < slow, got fast={p.fast} slow={p.slow}")
    close = cols["close"]
    sig = np.empty(close.shape)
    for j in range(close.shape[1]):
        sums = _ExactSums(close[:, j].tolist())
        fast, slow = np.array(sums.sma(p.fast)), np.array(sums.sma(p.slow))
        sig[:, j] = np.where(fast > slow, 1.0, -1.0)
    return sig, p.slow


def _buy_hold(cols: dict[str, np.ndarray], p: Any) -> tuple[np.ndarray, int]:
    return np.ones(cols["close"].shape), 1


def _rsi(cols: dict[str, np.ndarray], p: Any) -> tuple[np.ndarray, int]:
    from autostock.errors import ConfigError

    if not (0 < p.oversold < p.exit < p.overbought < 100):
        raise ConfigError(
            f"rsi needs 0 < oversold < exit < overbought < 100, got {p.oversold}, {p.exit}, {p.overbought}"
        )
    period = int(p.period)

    def one(c: list[float]) -> list[float]:
        return _band(_rsi_list(c, period), period, p.oversold, p.exit, p.overbought, p.exit)

    return _columns(cols, one), period + 1


def _mean_reversion(cols: dict[str, np.ndarray], p: Any) -> tuple[np.ndarray, int]:
    from autostock.errors import ConfigError

    if not (p.period >= 2 and p.entry > p.exit >= 0):
        raise ConfigError(
            f"mean_reversion needs period >= 2 and entry > exit >= 0, got {p.period}, {p.entry}, {p.exit}"
        )
    period = int(p.period)

    def one(c: list[float]) -> list[float]:
        return _band(_zscore_list(c, period), period - 1, -p.entry, -p.exit, p.entry, p.exit)

    return _columns(cols, one), period


def _ensemble_members(p: Any) -> list[tuple[Any, Any, float]]:
    """``(builder, params namespace, weight)`` per member, as :meth:`Ensemble.signal` builds them."""
    from autostock.engine import check_params
    from autostock.errors import ConfigError
    from autostock.registry import STRATEGIES
    from autostock.strategies.ensemble import normalised_weights, parse_members

    if not 0.0 <= float(p.quorum) < 1.0:
        raise ConfigError(f"ensemble quorum must be in [0, 1), got {p.quorum}")
    members = parse_members(p.members, p.weights)
    weights = normalised_weights(members, p.method)
    out = []
    for m, w in zip(members, weights):
        cls = STRATEGIES.get(m.name)
        params = check_params(cls, m.params, f"ensemble member {m.name!r}")
        out.append((SIGNALS[m.name], cls.param_namespace(**params), w))
    return out


def _ensemble(cols: dict[str, np.ndarray], p: Any) -> tuple[np.ndarray, int]:
    members = _ensemble_members(p)
    quorum = float(p.quorum)
    shape = cols["close"].shape
    long_share: Any = 0
    short_share: Any = 0
    minperiod = 1
    for builder, mp, w in members:
        sig, period = builder(cols, mp)
        minperiod = max(minperiod, period)
        long_share = long_share + w * (sig > 0)  # the same order of float additions as the strategy
        short_share = short_share + w * (sig < 0)
    sig = (np.broadcast_to(long_share, shape) > quorum).astype(float) - (np.broadcast_to(short_share, shape) > quorum)
    return sig, minperiod


SIGNALS["sma_cross"] = _sma_cross
SIGNALS["buy_hold"] = _buy_hold
SIGNALS["rsi"] = _rsi
SIGNALS["mean_reversion"] = _mean_reversion
SIGNALS["ensemble"] = _ensemble


def why_not(spec: RunSpec, market: Market) -> str | None:
    """``None`` when :func:`simulate` reproduces ``spec`` on ``market``; else the reason it does not."""
    from autostock.engine import resolve_strategy
    from autostock.registry import STRATEGIES

    if spec.strategy in NO_SIGNAL:
        return f"strategy {spec.strategy!r} has no vectorised signal: {NO_SIGNAL[spec.strategy]}"
    if spec.strategy not in SIGNALS:
        return f"strategy {spec.strategy!r} has no vectorised signal"
    cls = resolve_strategy(spec.strategy)
    if cls.__name__ != BUILTIN_CLASSES[spec.strategy] or STRATEGIES.source(spec.strategy) != "built-in":
        return f"strategy {spec.strategy!r} is not the built-in class"
    if spec.strategy == "ensemble":
        reason = _ensemble_why_not(spec.params)
        if reason:
            return reason
    if spec.strategy in ("rsi", "mean_reversion"):
        try:
            period = int(spec.params.get("period", 2))
        except (TypeError, ValueError):
            return "a period that is not a whole number"
        if period < 1:
            return "a period < 1"
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


def _ensemble_why_not(params: dict[str, Any], depth: int = 0) -> str | None:
    """Why an ensemble's members cannot be vectorised (``None`` when every member can)."""
    from autostock.engine import resolve_strategy
    from autostock.errors import UserError
    from autostock.registry import STRATEGIES
    from autostock.strategies.ensemble import parse_members

    try:
        members = parse_members(params.get("members", ""), params.get("weights") or None)
    except UserError as exc:
        return f"ensemble members: {exc}"
    for m in members:
        if m.name in NO_SIGNAL or m.name not in SIGNALS:
            return f"ensemble member {m.name!r} has no vectorised signal"
        try:
            cls = resolve_strategy(m.name)
        except UserError as exc:
            return f"ensemble member {m.name!r}: {exc}"
        if cls.__name__ != BUILTIN_CLASSES[m.name] or STRATEGIES.source(m.name) != "built-in":
            return f"ensemble member {m.name!r} is not the built-in class"
        if m.name == "ensemble":
            reason = _ensemble_why_not(m.params, depth + 1) if depth < 4 else "ensemble nested too deep"
            if reason:
                return reason
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
    signal, minperiod = SIGNALS[spec.strategy](cols, p)
    if n < minperiod:  # BaseStrategy._check_warmup (backtrader's batch mode)
        raise ConfigError(
            f"{symbols[0]}: {n} bar(s) in the run, fewer than the {minperiod} that "
            f"{cls.__name__}'s indicators need to warm up; give a longer date range"
        )
    want = signal > 0
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
    equity = pd.DataFrame({"value": values, "cash": cash_after}, index=pd.DatetimeIndex(index, name="date", freq=None))
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
