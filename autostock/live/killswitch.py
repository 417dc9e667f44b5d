"""Kill switches: max drawdown (flatten and halt), max order notional, max position, an order
rate guard against runaway loops, and a halt file. Every switch halts: the offending order is
not sent, and neither is any later one. A halt is stored in the state database and persists
across restarts until ``autostock resume`` clears it.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autostock.errors import ConfigError
from autostock.live.state import StateDB


class OrderBlocked(Exception):
    """An order refused by a kill switch; the message names the rule and the values."""


@dataclass
class SafetyLimits:
    """Limits checked before every order (None disables a rule).

    Parameters
    ----------
    max_drawdown : float
        Fraction of the equity peak (0.2 = 20 %); reaching it cancels orders, closes every
        position and halts.
    max_order_notional : float
        Dollars per order (quantity times the last price).
    max_position : float
        Dollars of one symbol's projected position after the order: filled, plus every open
        and in-flight order on the same side, plus the order.
    max_orders_per_minute : int
        More orders than this in 60 seconds halts trading (a runaway loop).
    halt_file : str
        A file whose existence halts trading.
    """

    max_drawdown: float | None = None
    max_order_notional: float | None = None
    max_position: float | None = None
    max_orders_per_minute: int | None = 30
    halt_file: str | None = None

    def __post_init__(self) -> None:
        if self.max_drawdown is not None and not 0 < self.max_drawdown < 1:
            raise ConfigError(f"max drawdown is a fraction in (0, 1), e.g. 0.2 for 20 %, got {self.max_drawdown}")
        for name in ("max_order_notional", "max_position"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ConfigError(f"{name.replace('_', ' ')} must be > 0 dollars, got {v}")
        if self.max_orders_per_minute is not None and self.max_orders_per_minute < 1:
            raise ConfigError(f"max orders per minute must be >= 1, got {self.max_orders_per_minute}")


class KillSwitch:
    """Checks orders and equity against :class:`SafetyLimits`; trips halts in ``state``."""

    def __init__(
        self, state: StateDB, limits: SafetyLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.state = state
        self.limits = limits or SafetyLimits()
        self._clock = clock
        self._recent: collections.deque[float] = collections.deque()

    def halted(self) -> str | None:
        """The halt reason (database flag or halt file), or None."""
        reason = self.state.halted()
        if reason is None and self.limits.halt_file and Path(self.limits.halt_file).exists():
            reason = f"halt file {self.limits.halt_file} exists"
            self.state.halt(reason)
        return reason

    def check_order(
        self,
        symbol: str,
        qty: float,
        price: float,
        position_qty: float,
        pending_buy: float = 0.0,
        pending_sell: float = 0.0,
    ) -> None:
        """Raise :class:`OrderBlocked` unless an order of signed ``qty`` at ``price`` is allowed.

        ``pending_buy`` / ``pending_sell`` are the unfilled share counts of the symbol's open
        and in-flight orders (both >= 0): the position cap counts the worst case on the
        order's side, ``position + pending on that side + order``.
        """
        reason = self.halted()
        if reason is not None:
            raise OrderBlocked(f"trading halted: {reason}")
        lim = self.limits
        notional = abs(qty) * price
        if lim.max_order_notional is not None and notional > lim.max_order_notional:
            self._trip(
                f"{symbol}: order notional {notional:,.2f} exceeds max order notional {lim.max_order_notional:,.2f}"
            )
        if lim.max_position is not None:
            if qty > 0:
                worst = position_qty + abs(pending_buy) + qty
                grows = worst > 0
            else:
                worst = position_qty - abs(pending_sell) + qty
                grows = worst < 0
            if grows and abs(worst) * price > lim.max_position:
                pend = abs(pending_buy if qty > 0 else pending_sell)
                self._trip(
                    f"{symbol}: projected position {abs(worst) * price:,.2f} (held {position_qty:g}, "
                    f"open orders {pend:g}, this order {qty:+g} shares) exceeds max position "
                    f"{lim.max_position:,.2f}"
                )
        if lim.max_orders_per_minute is not None:
            now = self._clock()
            while self._recent and now - self._recent[0] >= 60.0:
                self._recent.popleft()
            if len(self._recent) >= lim.max_orders_per_minute:
                self._trip(f"order-rate guard: more than {lim.max_orders_per_minute} orders in 60 s (runaway loop?)")
            self._recent.append(now)

    def _trip(self, reason: str) -> None:
        """Halt (persisted) and refuse the order."""
        self.state.halt(reason)
        raise OrderBlocked(f"trading halted: {reason}")

    def check_equity(self, equity: float) -> str | None:
        """Record nothing; return a halt reason when ``equity`` is below the drawdown limit."""
        lim = self.limits
        if lim.max_drawdown is None:
            return None
        peak = max(self.state.equity_peak() or equity, equity)
        drawdown = 1.0 - equity / peak if peak > 0 else 0.0
        if drawdown >= lim.max_drawdown:
            return (
                f"max drawdown: equity {equity:,.2f} is {drawdown:.1%} below its peak {peak:,.2f} "
                f"(limit {lim.max_drawdown:.1%})"
            )
        return None
