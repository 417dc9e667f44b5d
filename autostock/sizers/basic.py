"""The foundation's sizers: ``percent`` of equity per position, and ``fixed`` shares.

Each ``bt.Sizer`` is a thin wrapper over a pure function below (no backtrader in them).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import backtrader as bt

from autostock.context import context_of
from autostock.errors import ConfigError
from autostock.registry import SIZERS


def percent_shares(
    equity: float,
    cash: float,
    price: float,
    weight: float,
    slip_rate: float = 0.0,
    commission: Callable[[float, float], float] | None = None,
    cash_buffer: float = 0.0,
) -> int:
    """Whole shares worth ``weight`` of ``equity`` at the expected fill price, within ``cash``.

    The expected fill price is ``price * (1 + slip_rate)``; ``commission(size, price)`` is
    the commission of the order, reserved out of the target value and out of cash. When cash
    rather than the target bounds the order, ``cash_buffer`` of it is held back so that a
    modest gap up at the next open still fills. Never negative; zero when the price is not
    positive.
    """
    if not (price > 0) or not (weight > 0) or equity <= 0:
        return 0
    fill = price * (1.0 + max(slip_rate, 0.0))
    budget = min(equity * weight, max(cash, 0.0) * (1.0 - cash_buffer))
    size = math.floor(budget / fill)
    if commission is not None:
        while size > 0:
            excess = size * fill + commission(size, fill) - budget
            if excess <= 0:
                break
            size -= max(1, math.ceil(excess / fill))
    return max(int(size), 0)


def fixed_shares(stake: float) -> int:
    """A constant number of shares."""
    return max(int(stake), 0)


@SIZERS.register("percent")
class PercentSizer(bt.Sizer):
    """Buy ``percent`` of current equity per position, sized at the price the order fills at.

    Default (``percent`` unset): equal weight, ``1 / slots`` where ``slots`` is the strategy's
    number of concurrent positions (``strategy.slots()`` when it defines one, else the number
    of symbols). On the project's simulated broker (:class:`~autostock.sizers.fill.FillSizingBroker`)
    an entry is sized when it fills: ``weight`` of the equity marked at the fill bar's open,
    within the cash at that moment, at the open plus slippage, with the commission reserved, so
    a gap up never makes it unaffordable. With a risk guard installed the fill never buys more
    than the guard allowed at the close. On other brokers (paper / live) the order is sized at
    the last close plus slippage with ``cash_buffer`` of the cash held back when cash is the
    limit; an order that a larger gap makes unaffordable is rejected by the broker.

    ``at_fill=False`` keeps the close-sized order on the simulated broker too (what a live
    broker receives; e.g. to compare a backtest's orders with a paper session's).

    Params: ``percent`` (None = equal weight), ``cash_buffer`` (0.0025, only when sized at the close),
    ``at_fill`` (True).
    """

    params = (("percent", None), ("cash_buffer", 0.0025), ("at_fill", True))

    def _getsizing(self, comminfo: bt.CommInfoBase, cash: float, data: bt.AbstractDataBase, isbuy: bool) -> int:
        if self.p.percent is not None:
            if not (0 < self.p.percent <= 100):
                raise ConfigError(f"percent sizer: percent must be in (0, 100], got {self.p.percent}")
            weight = self.p.percent / 100.0
        else:
            slots = getattr(self.strategy, "slots", None)
            weight = 1.0 / (slots() if callable(slots) else len(self.strategy.datas))
        slip = float(getattr(self.broker.p, "slip_perc", 0.0) or 0.0)

        def commission(size: float, price: float) -> float:
            return comminfo.getcommission(size, price)

        size = percent_shares(
            self.broker.getvalue(),
            self._free_cash(cash, commission),
            data.close[0],
            weight,
            slip,
            commission,
            self.p.cash_buffer,
        )
        offer = getattr(self.broker, "offer_fill_sizing", None)
        if offer is not None and size > 0 and self.p.at_fill:
            ctx = context_of(self.strategy)
            cap = size if ctx is not None and ctx.guard is not None else None

            def resize(price: float, cash_now: float, equity: float) -> int:
                shares = percent_shares(equity, cash_now, price, weight, 0.0, commission)
                return shares if cap is None else min(shares, cap)

            offer(data, size, resize)
        return size

    def _free_cash(self, cash: float, commission: Callable[[float, float], float]) -> float:
        """Cash left after the orders sent earlier on this bar, as backtrader's submission check
        counts it (each order at its creation close, commission included, in sending order)."""
        for order in getattr(self.broker, "submitted", ()):
            size, price = abs(order.size), order.created.price
            if order.isbuy():
                cash -= size * price
            else:
                cash += size * price
            cash -= commission(size, price)
        return cash


@SIZERS.register("fixed")
class FixedSizer(bt.Sizer):
    """A fixed number of shares per order.

    Params: ``stake`` (100).
    """

    params = (("stake", 100),)

    def _getsizing(self, comminfo: bt.CommInfoBase, cash: float, data: bt.AbstractDataBase, isbuy: bool) -> int:
        if self.p.stake <= 0:
            raise ConfigError(f"fixed sizer: stake must be > 0, got {self.p.stake}")
        return fixed_shares(self.p.stake)
