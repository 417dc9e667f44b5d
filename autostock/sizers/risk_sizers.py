"""Risk sizers: ``fixed_fraction``, ``kelly``, ``vol_target``, ``equal_weight``.

Each ``_getsizing`` gathers what backtrader knows (equity, cash, prices, closed trades) and
calls one pure function of :mod:`autostock.sizers.risk`. An order against an open position
(a sell while long, a buy while short) is sized to close it; the risk math sizes entries.
"""

from __future__ import annotations

import math
from typing import Any

import backtrader as bt
import numpy as np

from autostock.context import context_of
from autostock.errors import ConfigError
from autostock.registry import SIZERS
from autostock.sizers import risk


class RiskSizer(bt.Sizer):
    """Base: closes an opposite position, otherwise sizes an entry with :meth:`entry`."""

    def _getsizing(self, comminfo: bt.CommInfoBase, cash: float, data: Any, isbuy: bool) -> int:
        position = self.strategy.getposition(data).size
        if (isbuy and position < 0) or (not isbuy and position > 0):
            return int(abs(position))
        price = float(data.close[0])
        if not (price > 0) or len(data) == 0:
            return 0
        return int(self.entry(data, price, float(self.broker.getvalue()), self.free_cash(cash), position))

    def free_cash(self, cash: float) -> float:
        """Cash less what the strategy's live buy orders will spend (valued at the last close)."""
        committed = 0.0
        broker = self.broker
        live = list(getattr(broker, "submitted", ()))  # sent this bar (backtrader's simulated broker)
        try:
            live += list(broker.get_orders_open() or ())
        except (AttributeError, NotImplementedError, TypeError):
            pass
        for order in {id(o): o for o in live}.values():
            if order.alive() and order.isbuy() and order.exectype in (bt.Order.Market, bt.Order.Close, None):
                committed += abs(order.size - order.executed.size) * float(order.data.close[0])
        return max(float(cash) - committed, 0.0)

    def entry(self, data: Any, price: float, equity: float, cash: float, position: float) -> int:  # pragma: no cover
        raise NotImplementedError

    def gross_exposure(self) -> float:
        """Sum of absolute position values at the current closes."""
        total = 0.0
        for d in self.strategy.datas:
            size = self.strategy.getposition(d).size
            if size and len(d):
                total += abs(size * float(d.close[0]))
        return total

    def slots(self) -> int:
        """Positions the strategy holds at once: ``strategy.slots()`` if defined, else its symbol count."""
        slots = getattr(self.strategy, "slots", None)
        return max(1, int(slots() if callable(slots) else len(self.strategy.datas)))

    def guard_setting(self, name: str) -> Any:
        """A risk setting of the run (``None`` when the run has no risk guard)."""
        ctx = context_of(self.strategy)
        guard = ctx.guard if ctx is not None else None
        return getattr(getattr(guard, "settings", None), name, None)


@SIZERS.register("fixed_fraction")
class FixedFractionSizer(RiskSizer):
    """Risk ``risk`` of equity per trade: ``shares = equity * risk / stop_distance``.

    The stop distance is, in order: the strategy's ``stop_distance(data)`` when it defines
    one and it returns a positive number; ``stop * price`` when ``stop`` is set; the run's
    ``stop_loss`` risk setting times the price; else ``atr_multiple * ATR(atr_period)``
    (fewer bars early in the series: the ATR over what there is). Capped by cash and by the
    gross leverage room (``max_leverage``; the run's risk setting when left at 0).

    Params: ``risk`` (0.02), ``atr_period`` (14), ``atr_multiple`` (2.0), ``stop`` (0.0 = unset),
    ``max_leverage`` (0.0 = the risk setting, else 1.0).
    """

    params = (("risk", 0.02), ("atr_period", 14), ("atr_multiple", 2.0), ("stop", 0.0), ("max_leverage", 0.0))

    def __init__(self) -> None:
        if not 0 < self.p.risk <= 1:
            raise ConfigError(f"fixed_fraction sizer: risk must be in (0, 1], got {self.p.risk}")
        if self.p.atr_period < 1 or self.p.atr_multiple <= 0:
            raise ConfigError(
                f"fixed_fraction sizer: atr_period >= 1 and atr_multiple > 0 needed, got "
                f"{self.p.atr_period}, {self.p.atr_multiple}"
            )
        if not 0 <= self.p.stop < 1:
            raise ConfigError(f"fixed_fraction sizer: stop must be in [0, 1), got {self.p.stop}")

    def stop_distance(self, data: Any, price: float) -> float:
        own = getattr(self.strategy, "stop_distance", None)
        if callable(own):
            value = own(data)
            if value is not None and value > 0:
                return float(value)
        pct = self.p.stop or self.guard_setting("stop_loss")
        if pct:
            return price * float(pct)
        n = min(self.p.atr_period, len(data) - 1)
        if n >= 1:
            atr = risk.average_true_range(
                data.high.get(size=n + 1), data.low.get(size=n + 1), data.close.get(size=n + 1), n
            )
        else:
            atr = float(data.high[0] - data.low[0])
        return self.p.atr_multiple * atr

    def entry(self, data: Any, price: float, equity: float, cash: float, position: float) -> int:
        distance = self.stop_distance(data, price)
        if not (distance > 0) or not math.isfinite(distance):
            return 0
        leverage = self.p.max_leverage or self.guard_setting("max_leverage") or 1.0
        return risk.fixed_fraction_shares(
            equity,
            price,
            distance,
            risk_fraction=self.p.risk,
            cash=cash,
            gross_exposure=self.gross_exposure(),
            max_leverage=leverage,
        )


@SIZERS.register("kelly")
class KellySizer(RiskSizer):
    """Fractional Kelly: position worth ``f * equity``, ``f = fraction * (W - (1 - W) / R)``
    clipped to ``[0, cap]``, from the win rate ``W`` and payoff ratio ``R`` of the last
    ``window`` closed trades (all symbols, after commission). Before ``min_trades`` trades
    have closed, ``f = warmup``. No edge gives zero: the strategy's entries are skipped.

    Params: ``fraction`` (0.5, half-Kelly), ``cap`` (0.25), ``window`` (50), ``min_trades``
    (10), ``warmup`` (0.05).
    """

    params = (("fraction", 0.5), ("cap", 0.25), ("window", 50), ("min_trades", 10), ("warmup", 0.05))

    def __init__(self) -> None:
        for name, low, high in (("fraction", 0, 1), ("cap", 0, 10), ("warmup", 0, 1)):
            if not low < getattr(self.p, name) <= high:
                raise ConfigError(f"kelly sizer: {name} must be in ({low}, {high}], got {getattr(self.p, name)}")
        if self.p.window < 1 or self.p.min_trades < 1:
            raise ConfigError(
                f"kelly sizer: window and min_trades must be >= 1, got {self.p.window}, {self.p.min_trades}"
            )

    def closed_pnls(self) -> list[float]:
        """Profit after commission of every closed trade so far, oldest first."""
        closed: list[tuple[Any, Any, float]] = []
        for per_data in self.strategy._trades.values():
            for trades in per_data.values():
                closed.extend((t.dtclose, t.ref, t.pnlcomm) for t in trades if t.isclosed)
        return [pnl for _, _, pnl in sorted(closed)]

    def entry(self, data: Any, price: float, equity: float, cash: float, position: float) -> int:
        f = risk.kelly_from_pnls(
            self.closed_pnls(),
            window=self.p.window,
            min_trades=self.p.min_trades,
            fraction=self.p.fraction,
            cap=self.p.cap,
            warmup=self.p.warmup,
        )
        return risk.target_shares(f, equity, price, current_shares=position, cash=cash)


@SIZERS.register("vol_target")
class VolTargetSizer(RiskSizer):
    """Volatility targeting with inverse-volatility or risk-parity weights.

    Weights ``w`` over the strategy's symbols with ``lookback`` bars of history are
    risk-parity (equal risk contribution) or inverse-vol, scaled so that portfolio's
    annualised volatility is ``target`` (:func:`~autostock.sizers.risk.vol_target_weights`).
    A strategy holding ``k = slots()`` of those ``N`` symbols holds each at ``w_i * N / k``,
    each at most ``max_leverage / k``; the order tops the position up to that weight.

    Params: ``target`` (0.10), ``lookback`` (60), ``method`` ("risk_parity" or
    "inverse_vol"), ``max_leverage`` (1.0), ``periods_per_year`` (252).
    """

    params = (
        ("target", 0.10),
        ("lookback", 60),
        ("method", "risk_parity"),
        ("max_leverage", 1.0),
        ("periods_per_year", 252),
    )

    def __init__(self) -> None:
        if not self.p.target > 0 or self.p.lookback < 2 or not self.p.max_leverage > 0:
            raise ConfigError(
                f"vol_target sizer: target > 0, lookback >= 2, max_leverage > 0 needed, got "
                f"{self.p.target}, {self.p.lookback}, {self.p.max_leverage}"
            )
        if self.p.method not in ("risk_parity", "inverse_vol"):
            raise ConfigError(f"vol_target sizer: method={self.p.method!r}; valid: risk_parity, inverse_vol")
        self._cache: tuple[Any, dict[Any, float]] | None = None

    def weights(self) -> dict[Any, float]:
        """Symbol weights for the current bar (computed once per bar)."""
        key = (len(self.strategy), self.strategy.datetime[0] if len(self.strategy) else None)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        n = self.p.lookback + 1
        eligible = [d for d in self.strategy.datas if len(d) >= n]
        weights: dict[Any, float] = {}
        if eligible:
            closes = np.column_stack([np.asarray(d.close.get(size=n), dtype=float) for d in eligible])
            if np.all(closes > 0):
                w = risk.vol_target_weights(
                    np.diff(np.log(closes), axis=0),
                    target_vol=self.p.target,
                    method=self.p.method,
                    max_leverage=float("inf"),
                    periods_per_year=self.p.periods_per_year,
                )
                k = min(self.slots(), len(eligible))
                scaled = np.minimum(w * len(eligible) / k, self.p.max_leverage / k)
                weights = dict(zip(eligible, scaled.tolist()))
        self._cache = (key, weights)
        return weights

    def entry(self, data: Any, price: float, equity: float, cash: float, position: float) -> int:
        weight = self.weights().get(data, 0.0)
        return risk.target_shares(weight, equity, price, current_shares=position, cash=cash)


@SIZERS.register("equal_weight")
class EqualWeightSizer(RiskSizer):
    """Each position worth ``equity / n``; ``n`` defaults to ``strategy.slots()`` or the number
    of symbols. The order tops the position up to that value, within cash.

    Params: ``n`` (0 = the strategy's slots).
    """

    params = (("n", 0),)

    def __init__(self) -> None:
        if self.p.n < 0:
            raise ConfigError(f"equal_weight sizer: n must be >= 0, got {self.p.n}")

    def entry(self, data: Any, price: float, equity: float, cash: float, position: float) -> int:
        return risk.equal_weight_shares(equity, price, self.p.n or self.slots(), cash=cash, current_shares=position)
