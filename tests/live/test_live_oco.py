"""One-cancels-others through the Alpaca adapter: the first fill cancels the group's other orders."""

from __future__ import annotations

import backtrader as bt

from autostock.strategies.base import BaseStrategy
from tests.live.live_helpers import push_day, start_session, wait_until


class OcoEntry(BaseStrategy):
    """On bar ``after``: a limit buy below and a stop buy above the close, one OCO group."""

    params = (("after", 6),)
    notes: list = []

    def __init__(self) -> None:
        self.sent = False

    def next(self) -> None:
        if self.sent or len(self.datas[0]) < self.p.after:
            return
        self.sent = True
        d = self.datas[0]
        first = self.buy(data=d, size=3, exectype=bt.Order.Limit, price=d.close[0] * 0.9)
        self.buy(data=d, size=3, exectype=bt.Order.Stop, price=d.close[0] * 1.1, oco=first)

    def notify_order(self, order: bt.Order) -> None:
        super().notify_order(order)
        OcoEntry.notes.append((order.getordername(), order.getstatusname()))


def test_first_fill_in_an_oco_group_cancels_the_other_order_at_the_broker(fake_alpaca, tmp_path):
    OcoEntry.notes.clear()
    run, bars = start_session(fake_alpaca, tmp_path, "tests.live.test_live_oco:OcoEntry", ["AAA"])
    try:
        push_day(fake_alpaca, run, bars, 5)
        wait_until(lambda: len(fake_alpaca.orders) == 2, what="both OCO orders at the server")
        by_type = {o["type"]: o for o in fake_alpaca.orders.values()}
        wait_until(lambda: sum(n[1] == "Accepted" for n in OcoEntry.notes) == 2, what="both accepted")
        fake_alpaca.fill(by_type["limit"]["id"], qty=1, price=float(by_type["limit"]["limit_price"]))
        push_day(fake_alpaca, run, bars, 6)  # the broker applies trade updates on the next bar
        wait_until(
            lambda: fake_alpaca.orders[by_type["stop"]["id"]]["status"] == "canceled",
            what="the stop order canceled at the server",
        )
        wait_until(lambda: ("Stop", "Canceled") in OcoEntry.notes, what="Canceled notified to the strategy")
    finally:
        run.stop()
    assert fake_alpaca.positions()["AAA"] == 1
    assert fake_alpaca.orders[by_type["limit"]["id"]]["status"] == "partially_filled"
