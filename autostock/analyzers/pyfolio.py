"""pyfolio's four inputs (returns, positions, transactions, gross leverage) recorded by one
analyzer, with a positions column for every data.

backtrader's ``PyFolio`` analyzer runs four child analyzers, and its ``PositionsValue`` child
asks the broker for ``get_value([data])`` once per data per bar, each call running the broker's
whole valuation routine to return one product. :class:`PyFolioFast` records the same values
in one pass per bar: the daily return as ``TimeReturn(timeframe=Days)`` computes it, each
data's value with the broker's own commission-info function (``getvalue``, or
``getvaluesize`` with ``shortcash``), the bar's executions summed as ``Transactions`` sums
them, and the gross leverage as ``GrossLeverage``. Its frames are built by backtrader's own
``get_pf_items`` and are equal to the ``PyFolio`` analyzer's (``tests/engine/test_pyfolio_items.py``),
except that ``positions`` keeps every data: backtrader's ``get_pf_items`` keeps only the last
data's column and the cash.
"""

from __future__ import annotations

import datetime
from typing import Any

import backtrader as bt
import pandas as pd
from backtrader.position import Position

_EXECUTIONS = (bt.Order.Partial, bt.Order.Completed)


class PyFolioFast(bt.Analyzer):
    """What ``bt.analyzers.PyFolio()`` records (daily returns), in one analyzer."""

    def start(self) -> None:
        super().start()
        strategy = self.strategy
        broker = strategy.broker
        self._fundmode = broker.fundmode
        self._last = broker.fundvalue if self._fundmode else broker.getvalue()
        self._day = -1
        self._day_key: datetime.datetime | None = None
        self._value = self._cash = 0.0
        names = [d._name or f"Data{i}" for i, d in enumerate(self.datas)]
        self._usedate = min(d._timeframe for d in self.datas) >= bt.TimeFrame.Days
        self._rows = [(d, d.lines.close, broker.getcommissioninfo(d)) for d in self.datas]
        self._order = {name: i for i, name in reversed(list(enumerate(strategy.getdatanames())))}
        self._fills: dict[str, Position] = {}
        self._returns: dict[datetime.datetime | None, float] = {}
        self.rets["returns"] = self._returns
        self.rets["positions"] = self._positions = {"Datetime": [*names, "cash"]}
        self.rets["transactions"] = self._transactions = {"date": [["amount", "price", "sid", "symbol", "value"]]}
        self._gross_lev: dict[datetime.datetime, float] = {}
        self.rets["gross_lev"] = self._gross_lev

    def notify_fund(self, cash: float, value: float, fundvalue: float, shares: float) -> None:
        self._cash = cash
        self._value = fundvalue if self._fundmode else value

    def notify_order(self, order: bt.Order) -> None:
        if order.status not in _EXECUTIONS:
            return
        name = order.data._name
        position = self._fills.get(name)
        if position is None:
            position = self._fills[name] = Position()
        for bit in order.executed.iterpending():
            if bit is None:
                break
            position.update(bit.size, bit.price)

    def next(self) -> None:
        strategy = self.strategy
        broker = strategy.broker
        dt = strategy.datetime.datetime()
        day = dt.year * 10000 + dt.month * 100 + dt.day
        if day > self._day:  # a new day: its return is measured from the last value of the day before
            self._day, self._day_key, self._start_value = day, datetime.datetime(dt.year, dt.month, dt.day), self._last
        value = self._value
        self._returns[self._day_key] = value / self._start_value - 1.0
        self._last = value
        positions = broker.positions
        shortcash = broker.p.shortcash
        values = []
        for d, close, info in self._rows:
            position = positions[d]
            price = close[0]
            values.append(info.getvaluesize(position.size, price) if shortcash else info.getvalue(position, price))
        values.append(broker.get_cash())
        self._positions[strategy.datetime.date() if self._usedate else dt] = values
        if self._fills:
            entries = [
                [p.size, p.price, self._order[name], name, -p.size * p.price]
                for name, p in sorted(self._fills.items(), key=lambda item: self._order.get(item[0], -1))
                if name in self._order and p.size
            ]
            if entries:
                self._transactions[dt] = entries
            self._fills.clear()
        self._gross_lev[self.data0.datetime.datetime()] = (value - self._cash) / value

    def get_pf_items(self) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame, pd.Series]:
        """backtrader's ``PyFolio.get_pf_items`` on these records."""
        return bt.analyzers.PyFolio.get_pf_items(self)


def pyfolio_items(analyzer: Any) -> dict[str, Any]:
    """pyfolio's returns, positions (every data and the cash), transactions and gross leverage
    from :class:`PyFolioFast` or backtrader's ``PyFolio`` analyzer."""
    returns, _, transactions, gross_lev = analyzer.get_pf_items()
    header, *body = ([key, *values] for key, values in analyzer.rets["positions"].items())
    positions = pd.DataFrame.from_records(body, columns=header).set_index(header[0])
    positions.index = pd.to_datetime(positions.index).tz_localize("UTC")
    return {"returns": returns, "positions": positions, "transactions": transactions, "gross_lev": gross_lev}
