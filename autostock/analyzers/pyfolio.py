"""backtrader's PyFolio analyzer with a cheaper positions child and every symbol kept.

backtrader's ``PositionsValue`` asks the broker for ``get_value([data])`` once per data per bar;
each call runs the broker's whole valuation routine (cash additions, unrealised profit and
loss) to return one product. :class:`PositionsValueFast` computes that same product, with the
same commission-info function the broker uses (``getvalue`` or, with ``shortcash``,
``getvaluesize``), so the frames are equal (``tests/engine/test_pyfolio_positions.py``).
:func:`pyfolio_items` returns pyfolio's four inputs with a positions column for every data
(backtrader's ``get_pf_items`` keeps only the last data's column and the cash).
"""

from __future__ import annotations

from typing import Any

import backtrader as bt
import pandas as pd
from backtrader.analyzers import GrossLeverage, TimeReturn, Transactions


class PositionsValueFast(bt.Analyzer):
    """``bt.analyzers.PositionsValue(headers=True, cash=True)``, the same values per bar."""

    def start(self) -> None:
        super().start()
        self.rets["Datetime"] = [d._name or f"Data{i}" for i, d in enumerate(self.datas)] + ["cash"]
        self._usedate = min(d._timeframe for d in self.datas) >= bt.TimeFrame.Days
        broker = self.strategy.broker
        self._rows = [(d, d.lines.close, broker.getcommissioninfo(d)) for d in self.datas]

    def next(self) -> None:
        broker = self.strategy.broker
        positions = broker.positions
        shortcash = broker.p.shortcash
        values = []
        for d, close, info in self._rows:
            position = positions[d]
            price = close[0]
            values.append(info.getvaluesize(position.size, price) if shortcash else info.getvalue(position, price))
        values.append(broker.get_cash())
        dt = self.strategy.datetime
        self.rets[dt.date() if self._usedate else dt.datetime()] = values


class PyFolioFast(bt.analyzers.PyFolio):
    """``bt.analyzers.PyFolio`` with :class:`PositionsValueFast` as its positions child."""

    def __init__(self) -> None:  # the parent's children, built here (its __init__ would build them again)
        frame = {"timeframe": self.p.timeframe, "compression": self.p.compression}
        self._returns = TimeReturn(**frame)
        self._positions = PositionsValueFast()
        self._transactions = Transactions(headers=True)
        self._gross_lev = GrossLeverage()


def pyfolio_items(analyzer: bt.analyzers.PyFolio) -> dict[str, Any]:
    """pyfolio's returns, positions (every data and the cash), transactions and gross leverage."""
    returns, _, transactions, gross_lev = analyzer.get_pf_items()
    header, *body = ([key, *values] for key, values in analyzer.rets["positions"].items())
    positions = pd.DataFrame.from_records(body, columns=header).set_index(header[0])
    positions.index = pd.to_datetime(positions.index).tz_localize("UTC")
    return {"returns": returns, "positions": positions, "transactions": transactions, "gross_lev": gross_lev}
