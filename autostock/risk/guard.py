"""The risk guard: every strategy order passes through it before it reaches the broker.

``BaseStrategy.buy/sell`` call :meth:`RiskGuard.submit` when the engine installed a guard
(the run context's ``guard``). The part of an order that reduces a position always passes;
the part that opens or adds to one is checked, in order, against

1. the kill switch (no new exposure after a drawdown breach, until the cool-off ends);
2. the correlation limit: the candidate's rolling return correlation with the book (its
   held positions weighted by signed value) above the limit refuses the order, or in
   ``reduce`` mode scales it by ``(1 - corr) / (1 - limit)``;
3. the max gross leverage, max position weight and sector caps
   (:func:`autostock.sizers.risk.limit_shares`), which reduce the order to the room left.

Positions are projected: current positions plus what the guard's live orders still have to
fill, valued at the bar's close, so a batch of orders sent on one bar cannot overshoot a cap
together. Each refusal and reduction is logged (logger ``autostock.risk``) and counted by
reason. The kill switch, trims and protective stops are driven by the strategy base
(:class:`~autostock.strategies.base.BaseStrategy`), which hands the guard every bar's value
before the strategy's ``next()`` and every order notification; the ``risk_guard`` analyzer
only reports.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

import backtrader as bt
import numpy as np

from autostock.risk.settings import RiskSettings
from autostock.sizers.risk import Exposure, correlation_scale, correlation_with_book, drawdown, limit_shares
from autostock.universe import cap_for

log = logging.getLogger("autostock.risk")


def _date(strategy: bt.Strategy) -> str:
    try:
        return strategy.datetime.date(0).isoformat()
    except (IndexError, ValueError):
        return ""


def cancel(strategy: bt.Strategy, order: bt.Order) -> None:
    """Cancel ``order`` even when it was submitted on this bar.

    backtrader's simulated broker keeps orders sent during a bar in ``submitted`` until its
    next ``next()``, and its ``cancel()`` only looks at accepted orders, so a same-bar cancel
    would silently fail and the order would still execute.
    """
    if not order.alive():
        return
    strategy.cancel(order)
    queue = getattr(strategy.broker, "submitted", None)
    if order.alive() and queue is not None and order in queue:
        queue.remove(order)
        order.cancel()
        strategy.broker.notify(order)


def closes(data: Any, n: int) -> np.ndarray:
    """The last ``n`` closes of a backtrader data up to the current bar (empty if fewer)."""
    if len(data) < n:
        return np.array([])
    return np.asarray(data.close.get(size=n), dtype=float)


class RiskGuard:
    """Checks orders against the risk settings; counts and logs refusals and reductions.

    Parameters
    ----------
    settings
        Validated :class:`~autostock.risk.settings.RiskSettings`.
    sectors
        Symbol -> sector, for the sector caps and the exposure report.
    """

    def __init__(self, settings: RiskSettings, sectors: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.sectors = dict(sectors or {})
        self.reset()

    # -- state ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all run state (called at the start of every run)."""
        self.refusals: Counter[str] = Counter()
        self.reductions: Counter[str] = Counter()
        self.log: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.orders: list[bt.Order] = []
        self.killed = False
        self.resume_bar: int | None = None
        self.peak = 0.0
        self.bar = 0
        self.protective: dict[Any, list[bt.Order]] = {}
        self.stops_fired: Counter[str] = Counter()

    def sector_of(self, data: Any) -> str | None:
        return self.sectors.get(data._name)

    def pending_size(self, data: Any) -> float:
        """Signed size the guard's live orders for ``data`` still have to fill."""
        self.orders = [o for o in self.orders if o.alive()]
        return float(sum(o.size - o.executed.size for o in self.orders if o.data is data))

    def projected(self, strategy: bt.Strategy, data: Any) -> float:
        """Position size once the guard's live orders have filled."""
        return float(strategy.getposition(data).size) + self.pending_size(data)

    def book(self, strategy: bt.Strategy) -> dict[Any, float]:
        """Projected signed value per data with a non-zero projected position."""
        self.orders = [o for o in self.orders if o.alive()]
        pending: dict[Any, float] = {}
        for o in self.orders:
            pending[o.data] = pending.get(o.data, 0.0) + o.size - o.executed.size
        out = {}
        for d in strategy.datas:
            size = float(strategy.getposition(d).size) + pending.get(d, 0.0)
            if size and len(d):
                out[d] = size * float(d.close[0])
        return out

    # -- decisions -----------------------------------------------------------------------
    def _record(
        self, kind: str, strategy: bt.Strategy, data: Any, reason: str, asked: float, allowed: float, detail: str = ""
    ) -> None:
        (self.refusals if kind == "refused" else self.reductions)[reason] += 1
        row = {
            "date": _date(strategy),
            "symbol": data._name,
            "action": kind,
            "reason": reason,
            "asked": asked,
            "allowed": allowed,
            "detail": detail,
        }
        self.log.append(row)
        log.info(
            "%s %s %s: %s (asked %s, allowed %s) %s", row["date"], data._name, kind, reason, asked, allowed, detail
        )

    def correlation(self, data: Any, sign: int, book: dict[Any, float]) -> float:
        """Rolling correlation of ``data``'s returns (negated for a short) with the rest of the book."""
        others = {d: v for d, v in book.items() if d is not data}
        n = self.settings.correlation_window + 1
        cand = closes(data, n)
        if not others or cand.size < n:
            return float("nan")
        series, values = [], []
        for d, v in others.items():
            c = closes(d, n)
            if c.size < n:
                continue
            series.append(np.diff(np.log(c)))
            values.append(v)
        if not series:
            return float("nan")
        return correlation_with_book(sign * np.diff(np.log(cand)), np.column_stack(series), values)

    def allowed_increase(self, strategy: bt.Strategy, data: Any, shares: float, sign: int) -> float:
        """Shares of a position increase that pass the checks (recording why not all do)."""
        s = self.settings
        if self.killed:
            self._record("refused", strategy, data, "kill_switch", shares, 0)
            return 0
        book = self.book(strategy)
        if s.correlation_limit is not None:
            corr = self.correlation(data, sign, book)
            if math.isfinite(corr) and corr > s.correlation_limit:
                detail = f"correlation {corr:.3f} > {s.correlation_limit}"
                if s.correlation_action == "refuse":
                    self._record("refused", strategy, data, "correlation", shares, 0, detail)
                    return 0
                kept = math.floor(shares * correlation_scale(corr, s.correlation_limit))
                self._record("refused" if kept <= 0 else "reduced", strategy, data, "correlation", shares, kept, detail)
                if kept <= 0:
                    return 0
                shares = kept
        price = float(data.close[0])
        sector = self.sector_of(data)
        cap = cap_for(sector, s.sector_caps) if s.sector_caps is not None else None
        exposure = Exposure(
            equity=float(strategy.broker.getvalue()),
            gross=sum(abs(v) for v in book.values()),
            position=abs(book.get(data, 0.0)),
            sector=sum(abs(v) for d, v in book.items() if self.sector_of(d) == sector),
        )
        allowed, reason = limit_shares(
            int(shares),
            price,
            exposure,
            max_leverage=s.max_leverage,
            max_position_weight=s.max_position_weight,
            sector_cap=cap,
        )
        if reason is not None:
            self._record(
                "refused" if allowed <= 0 else "reduced",
                strategy,
                data,
                reason,
                shares,
                allowed,
                f"sector {sector}" if reason == "sector_cap" else "",
            )
        return allowed

    def submit(
        self,
        strategy: bt.Strategy,
        submit_fn: Callable[..., Any],
        data: Any,
        size: float | None,
        is_buy: bool,
        kwargs: dict[str, Any],
    ) -> bt.Order | None:
        """Check an order and send what passes through ``submit_fn``; ``None`` when refused."""
        if size is None:
            size = strategy.getsizing(data, isbuy=is_buy)
        size = abs(float(size or 0))
        if size == 0:
            return None
        sign = 1 if is_buy else -1
        current = float(strategy.getposition(data).size)
        projected = self.projected(strategy, data)
        reducing = min(size, abs(projected)) if projected * sign < 0 else 0.0
        increase = size - reducing
        if current * sign < 0 and size == abs(current) and projected != current:
            increase = 0.0  # a close() while guard orders already reduce the position: close what is left
        if increase > 0:
            increase = self.allowed_increase(strategy, data, increase, sign)
        final = reducing + increase
        if final <= 0:
            return None
        if reducing:  # the stops are re-placed for what is left once this order fills
            for old in self.protective.pop(data, []):
                cancel(strategy, old)
        order = submit_fn(data=data, size=final, **kwargs)
        if order is not None:
            self.orders.append(order)
        return order

    # -- kill switch ---------------------------------------------------------------------
    def on_bar(self, strategy: bt.Strategy, value: float) -> None:
        """Called once per bar with the portfolio value, before the strategy's ``next()``."""
        self.bar += 1
        s = self.settings
        if s.max_drawdown is None:
            if s.trim:
                self.trim(strategy, value)
            return
        if self.killed:
            if self.resume_bar is not None and self.bar >= self.resume_bar:
                self.killed = False
                self.resume_bar = None
                self.peak = value
                self.events.append({"type": "kill_switch_resume", "date": _date(strategy), "equity": value})
                log.warning("%s kill switch: cool-off over, entries resume", _date(strategy))
            return
        self.peak = max(self.peak, value)
        dd = drawdown(value, self.peak)
        if dd >= s.max_drawdown:
            self.kill(strategy, value, dd)
        elif s.trim:
            self.trim(strategy, value)

    def trim(self, strategy: bt.Strategy, equity: float) -> None:
        """Sell back to the caps positions that price moves pushed over them (more than ``trim_band``).

        Targets: each position at most ``max_position_weight``; each sector's positions scaled
        down together to the sector cap; everything scaled down to ``max_leverage``. Symbols
        with a live guard order are left alone this bar.
        """
        s = self.settings
        if not (equity > 0):
            return
        busy = {o.data for o in self.orders if o.alive()}
        held = {}
        for d in strategy.datas:
            size = strategy.getposition(d).size
            if size and len(d) and d not in busy:
                held[d] = abs(size * float(d.close[0]))
        if not held:
            return
        band = s.trim_band * equity
        target = dict(held)
        why = dict.fromkeys(held, "")
        if s.max_position_weight is not None:
            for d, v in target.items():
                if v > s.max_position_weight * equity + band:
                    target[d], why[d] = s.max_position_weight * equity, "trim_max_position_weight"
        if s.sector_caps is not None:
            for sector in {self.sector_of(d) for d in target}:
                members = [d for d in target if self.sector_of(d) == sector]
                total = sum(target[d] for d in members)
                room = cap_for(sector, s.sector_caps) * equity
                if total > room + band:
                    for d in members:
                        target[d], why[d] = target[d] * room / total, "trim_sector_cap"
        total = sum(target.values())
        if total > s.max_leverage * equity + band:
            for d in target:
                target[d], why[d] = target[d] * s.max_leverage * equity / total, "trim_max_leverage"
        for d, v in held.items():
            shares = math.ceil((v - target[d]) / float(d.close[0]) - 1e-9)  # at least back under the cap
            if shares >= 1 and why[d]:
                size = strategy.getposition(d).size
                shares = min(shares, abs(size))
                self._record("reduced", strategy, d, why[d], abs(size), abs(size) - shares, "price drift over the cap")
                (strategy.sell if size > 0 else strategy.buy)(data=d, size=shares)

    def kill(self, strategy: bt.Strategy, value: float, dd: float) -> None:
        """Cancel every live order, flatten every position, refuse new exposure."""
        self.killed = True
        self.resume_bar = self.bar + self.settings.cool_off if self.settings.cool_off else None
        protective = [o for orders in self.protective.values() for o in orders]
        self.protective = {}
        for order in protective + list(self.orders) + list(getattr(strategy.broker, "get_orders_open", lambda: [])()):
            cancel(strategy, order)
        closed = []
        for d in strategy.datas:
            if strategy.getposition(d).size:
                strategy.close(data=d)
                closed.append(d._name)
        event = {
            "type": "kill_switch",
            "date": _date(strategy),
            "equity": value,
            "peak": self.peak,
            "drawdown": dd,
            "limit": self.settings.max_drawdown,
            "flattened": closed,
            "cool_off_bars": self.settings.cool_off,
        }
        self.events.append(event)
        log.warning(
            "%s kill switch: drawdown %.2f%% >= %.2f%%, flattening %s",
            event["date"],
            100 * dd,
            100 * cast(float, self.settings.max_drawdown),  # set: the switch only fires with a limit
            ", ".join(closed) or "nothing",
        )

    # -- protective stops ----------------------------------------------------------------
    def on_order(self, strategy: bt.Strategy, order: bt.Order) -> None:
        """After a fill, (re)place the protective orders for the position it left."""
        if order.status != bt.Order.Completed:
            return
        data = order.data
        kind = order.info.get("risk") if order.info else None
        if kind:
            self.stops_fired[kind] += 1
            self.events.append(
                {
                    "type": kind,
                    "date": _date(strategy),
                    "symbol": data._name,
                    "price": order.executed.price,
                    "size": order.executed.size,
                }
            )
            log.info("%s %s %s filled at %.4f", _date(strategy), data._name, kind, order.executed.price)
        if not self.settings.has_stops:
            return
        for old in self.protective.pop(data, []):
            cancel(strategy, old)
        position = strategy.getposition(data)
        if position.size and not self.killed:
            self.protective[data] = self.place_stops(strategy, data, position.size, position.price)

    def place_stops(self, strategy: bt.Strategy, data: Any, size: float, entry: float) -> list[bt.Order]:
        """Stop-loss (Stop), take-profit (Limit) and trailing stop (StopTrail) for a position,
        one OCO group: the first to fill cancels the others. Prices are relative to ``entry``
        (the position's average price)."""
        s = self.settings
        long = size > 0
        exit_fn = bt.Strategy.sell if long else bt.Strategy.buy  # bypasses the guard and the sizer
        qty = abs(size)
        side = -1 if long else 1
        specs = []
        if s.stop_loss is not None:
            specs.append(("stop_loss", {"exectype": bt.Order.Stop, "price": entry * (1 + side * s.stop_loss)}))
        if s.take_profit is not None:
            specs.append(("take_profit", {"exectype": bt.Order.Limit, "price": entry * (1 - side * s.take_profit)}))
        if s.trailing_stop is not None:
            specs.append(("trailing_stop", {"exectype": bt.Order.StopTrail, "trailpercent": s.trailing_stop}))
        orders: list[bt.Order] = []
        for kind, kwargs in specs:
            if kind == "take_profit" and kwargs["price"] <= 0:
                continue
            order = exit_fn(strategy, data=data, size=qty, oco=orders[0] if orders else None, **kwargs)
            if order is not None:
                order.addinfo(risk=kind)
                orders.append(order)
        return orders
