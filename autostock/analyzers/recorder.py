"""The run recorder: equity, positions, orders and closed trades with their costs."""

from __future__ import annotations

from typing import Any

import backtrader as bt

ORDER_STATUS = {
    bt.Order.Completed: "Completed",
    bt.Order.Canceled: "Canceled",
    bt.Order.Margin: "Margin",
    bt.Order.Rejected: "Rejected",
    bt.Order.Expired: "Expired",
}


class Recorder(bt.Analyzer):
    """Record what a report needs, bar by bar, without influencing the run.

    * equity: one row per bar (date, value, cash);
    * positions: one row per held symbol per bar (date, symbol, size, value);
    * orders: one row per order reaching a final state, with slippage cost measured against
      the bar's open for market orders (the price before slippage and spread);
    * trades: one row per closed trade: entry/exit date and average price, size, gross pnl,
      commission, slippage cost and pnl after commission (needs ``tradehistory=True``).
    """

    def start(self) -> None:
        self.equity: list[tuple] = []
        self.positions: list[tuple] = []
        self.orders: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self._slippage: dict[int, float] = {}

    def next(self) -> None:
        strat = self.strategy
        broker = strat.broker
        dt = strat.datetime.datetime(0)
        self.equity.append((dt, broker.getvalue(), broker.getcash()))
        for d in strat.datas:
            size = broker.getposition(d).size
            if size:
                self.positions.append((dt, d._name, size, size * d.close[0]))

    def notify_order(self, order: bt.Order) -> None:
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
                "created": bt.num2date(order.created.dt).isoformat() if order.created.dt else None,
                "symbol": d._name,
                "side": "buy" if order.isbuy() else "sell",
                "type": order.getordername(),
                "size": order.created.size,
                "status": status,
                "executed": bt.num2date(ex.dt).isoformat() if ex.dt else None,
                "exec_price": ex.price if ex.size else None,
                "exec_size": ex.size,
                "commission": ex.comm,
                "slippage_cost": slip,
            }
        )

    def notify_trade(self, trade: bt.Trade) -> None:
        if not trade.isclosed:
            return
        events = [h.event for h in trade.history if "order" in h.event]
        first = events[0].size if events else 0.0
        closing = [e for e in events if (e.size > 0) != (first > 0)]
        qty = sum(abs(e.size) for e in closing)
        exit_price = sum(abs(e.size) * e.price for e in closing) / qty if qty else float("nan")
        peak = max((abs(h.status.size) for h in trade.history), default=0.0)
        slippage = sum(self._slippage.get(ref, 0.0) for ref in {e.order.ref for e in events})
        self.trades.append(
            {
                "symbol": trade.data._name,
                "direction": "long" if first > 0 else "short",
                "entry_date": bt.num2date(trade.dtopen).isoformat(),
                "entry_price": trade.price,
                "exit_date": bt.num2date(trade.dtclose).isoformat(),
                "exit_price": exit_price,
                "size": peak,
                "bars": trade.barlen,
                "pnl": trade.pnl,
                "commission": trade.commission,
                "slippage_cost": slippage,
                "pnl_after_costs": trade.pnlcomm,
            }
        )

    def get_analysis(self) -> dict[str, Any]:
        return {"n_bars": len(self.equity), "n_orders": len(self.orders), "n_trades": len(self.trades)}
