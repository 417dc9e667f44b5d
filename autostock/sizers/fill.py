"""Entries sized at the fill: the broker side of the ``percent`` sizer.

backtrader sizes an order when the strategy sends it, at the signal bar's close, and fills a
market order at the next bar's open; an all-in entry sized at the close is rejected (Margin)
whenever the market gaps up. :class:`FillSizingBroker` is backtrader's simulated broker with one
addition: a sizer may hand it a ``resize(price, cash, equity) -> shares`` function for the order
it just sized, and the broker calls it with the price the order fills at (the open, after
slippage), the cash at that moment and the equity marked at the fill bar's opens. Such orders
run after the bar's other orders, so that cash freed by exits on the same open is available.
Nothing after the fill bar's open is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import backtrader as bt

Resize = Callable[[float, float, float], int]


class FillSizingBroker(bt.brokers.BackBroker):
    """backtrader's ``BackBroker`` that re-sizes offered market orders at their fill price."""

    def init(self) -> None:
        super().init()
        self._offer: tuple[Any, float, Resize] | None = None
        self._resize: dict[int, Resize] = {}

    def offer_fill_sizing(self, data: Any, size: float, resize: Resize) -> None:
        """Called by a sizer: the next order for ``data`` of ``size`` shares is sized at its fill."""
        self._offer = (data, abs(size), resize)

    def submit(self, order: bt.Order, check: bool = True) -> bt.Order:
        offer, self._offer = self._offer, None
        if (
            offer is not None
            and offer[0] is order.data
            and offer[1] == abs(order.size)
            and order.size
            and order.exectype == bt.Order.Market
            and order.parent is None
        ):
            self._resize[order.ref] = offer[2]
        return super().submit(order, check=check)

    def next(self) -> None:
        if self._resize:
            while self._toactivate:
                self._toactivate.popleft().activate()
            if self.p.checksubmit:
                self.check_submitted()
            pending = list(self.pending)
            live = {o.ref for o in pending}
            for ref in [r for r in self._resize if r not in live]:  # rejected at submission
                del self._resize[ref]
            if self._resize:
                self.pending.clear()
                self.pending.extend(o for o in pending if o.ref not in self._resize)
                self.pending.extend(o for o in pending if o.ref in self._resize)
        super().next()

    def _try_exec_market(self, order: bt.Order, popen: float, phigh: float, plow: float) -> None:
        resize = self._resize.pop(order.ref, None)
        if resize is not None:
            if not (self.p.coo or self.p.coc) and order.data.datetime[0] <= order.created.dt:
                self._resize[order.ref] = resize  # not executable yet: keep the offer
            else:
                price = order.created.pclose if self.p.coc else popen
                if order.isbuy():
                    price = self._slip_up(phigh, price, doslip=self.p.slip_open)
                else:
                    price = self._slip_down(plow, price, doslip=self.p.slip_open)
                equity = self.cash + sum(
                    pos.size * float(d.open[0]) for d, pos in self.positions.items() if pos.size and len(d)
                )
                size = int(resize(float(price), float(self.cash), float(equity)))
                if size <= 0:
                    order.cancel()
                    self.notify(order)
                    return
                signed = size if order.isbuy() else -size
                order.size = signed  # order.created keeps what the strategy sent (orders.csv "size")
                order.executed.remsize = signed
        super()._try_exec_market(order, popen, phigh, plow)
