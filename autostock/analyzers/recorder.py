"""The run recorder: equity, positions, orders and closed trades with their costs."""

from __future__ import annotations

from collections import deque
from typing import Any

import backtrader as bt

ORDER_STATUS = {
    bt.Order.Completed: "Completed",
    bt.Order.Canceled: "Canceled",
    bt.Order.Margin: "Margin",
    bt.Order.Rejected: "Rejected",
    bt.Order.Expired: "Expired",
}


_BACK_GETPOSITION = bt.brokers.BackBroker.getposition


class Recorder(bt.Analyzer):
    """Record what a report needs, bar by bar, without influencing the run.

    * equity: one row per bar (date, value, cash);
    * positions: one row per held symbol per bar (date, symbol, size, value);
    * orders: one row per order reaching a final state, with slippage cost measured against
      the bar's open for market orders (the price before slippage and spread);
    * trades: one row per closed trade: entry/exit date and average price, size, gross pnl,
      commission, slippage cost and pnl after commission.

    A trade's exit price, peak size and slippage come from the execution bits of the orders
    that touched it, followed here exactly as backtrader's strategy books them into trades, so
    the Cerebro need not keep ``tradehistory`` (a copy of the trade on every update).
    """

    def start(self) -> None:
        self.equity: list[tuple] = []
        self.positions: list[tuple] = []
        self.orders: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self._slippage: dict[int, float] = {}
        self._open: dict[tuple[Any, int], _Legs] = {}  # (data, tradeid) -> the open trade's legs
        self._closed: dict[tuple[Any, int], deque[_Legs]] = {}  # closed, awaiting notify_trade
        self._rows: list[tuple[Any, str, Any]] | None = None
        self._iso: dict[float, str] = {}  # backtrader date number -> ISO text (orders and trades share bars)

    def next(self) -> None:
        strat = self.strategy
        broker = strat.broker
        dt = strat.datetime.datetime(0)
        self.equity.append((dt, broker.getvalue(), broker.getcash()))
        rows = self._rows
        if rows is None:  # (data, name, close line) per data, in the strategy's order
            rows = self._rows = [(d, d._name, d.lines.close) for d in strat.datas]
        append = self.positions.append
        if type(broker).getposition is _BACK_GETPOSITION:  # the simulated broker's own dict
            positions = broker.positions
            for d, name, close in rows:
                size = positions[d].size
                if size:
                    append((dt, name, size, size * close.array[close._idx]))  # close[0], read in place
        else:  # any broker (live)
            position = broker.getposition
            for d, name, close in rows:
                size = position(d).size
                if size:
                    append((dt, name, size, size * close[0]))

    def _book(self, order: bt.Order) -> None:
        """Follow backtrader's ``Strategy._addnotification``: each new execution bit closes
        and/or opens part of the (data, tradeid) trade."""
        data = order.data._compensate if order.data._compensate is not None else order.data
        key = (data, order.tradeid)
        for bit in order.executed.iterpending():
            if bit is None:
                break
            for part in (bit.closed, bit.opened):
                if not part:
                    continue
                legs = self._open.get(key)
                if legs is None:
                    legs = self._open[key] = _Legs()
                legs.add(order.ref, part, bit.price)
                if legs.size == 0:
                    self._closed.setdefault(key, deque()).append(self._open.pop(key))

    def _isoformat(self, num: float) -> str:
        text = self._iso.get(num)
        if text is None:
            text = self._iso[num] = bt.num2date(num).isoformat()
        return text

    def notify_order(self, order: bt.Order) -> None:
        if order.executed.size:
            self._book(order)
        status = ORDER_STATUS.get(order.status)
        if status is None:
            return
        d = order.data
        ex = order.executed
        slip = 0.0
        if order.status == bt.Order.Completed and order.exectype == bt.Order.Market and ex.size:
            slip = round(abs(ex.price - d.open[0]) * abs(ex.size), 8)
        self._slippage[order.ref] = slip
        self.orders.append(
            {
                "ref": order.ref,
                "created": self._isoformat(order.created.dt) if order.created.dt else None,
                "symbol": d._name,
                "side": "buy" if order.isbuy() else "sell",
                "type": order.getordername(),
                "size": order.created.size,
                "status": status,
                "executed": self._isoformat(ex.dt) if ex.dt else None,
                "exec_price": ex.price if ex.size else None,
                "exec_size": ex.size,
                "commission": ex.comm,
                "slippage_cost": slip,
            }
        )

    def notify_trade(self, trade: bt.Trade) -> None:
        if not trade.isclosed:
            return
        queue = self._closed.get((trade.data, trade.tradeid))
        legs = queue.popleft() if queue else _Legs()
        first = legs.events[0][1] if legs.events else 0.0
        closing = [(size, price) for _, size, price in legs.events if (size > 0) != (first > 0)]
        qty = sum(abs(size) for size, _ in closing)
        exit_price = sum(abs(size) * price for size, price in closing) / qty if qty else float("nan")
        slippage = sum(self._slippage.get(ref, 0.0) for ref in {ref for ref, _, _ in legs.events})
        self.trades.append(
            {
                "symbol": trade.data._name,
                "direction": "long" if first > 0 else "short",
                "entry_date": self._isoformat(trade.dtopen),
                "entry_price": trade.price,
                "exit_date": self._isoformat(trade.dtclose),
                "exit_price": exit_price,
                "size": legs.peak,
                "bars": trade.barlen,
                "pnl": trade.pnl,
                "commission": trade.commission,
                "slippage_cost": slippage,
                "pnl_after_costs": trade.pnlcomm,
            }
        )

    def get_analysis(self) -> dict[str, Any]:
        return {"n_bars": len(self.equity), "n_orders": len(self.orders), "n_trades": len(self.trades)}


class _Legs:
    """One trade's executions: (order ref, signed size, price), running size and peak size."""

    __slots__ = ("events", "peak", "size")

    def __init__(self) -> None:
        self.events: list[tuple[int, float, float]] = []
        self.size: float = 0  # int while the orders' sizes are ints, as backtrader keeps them
        self.peak: float = 0

    def add(self, ref: int, size: float, price: float) -> None:
        self.events.append((ref, size, price))
        self.size += size
        self.peak = max(self.peak, abs(self.size))
