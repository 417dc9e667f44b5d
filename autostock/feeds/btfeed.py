"""A backtrader data feed over validated bars, read from plain lists.

backtrader's ``PandasData`` reads every cell through ``DataFrame.iloc`` (several pandas calls per
value); this feed converts the columns once at ``start`` and then only indexes Python lists.
"""

from __future__ import annotations

import backtrader as bt
import pandas as pd


class FrameFeed(bt.feed.DataBase):
    """Bars from a DataFrame indexed by timestamp with open/high/low/close/volume columns."""

    def start(self) -> None:
        super().start()
        df: pd.DataFrame = self.p.dataname
        self._rows = list(
            zip(
                [bt.date2num(ts) for ts in df.index.to_pydatetime()],
                df["open"].tolist(),
                df["high"].tolist(),
                df["low"].tolist(),
                df["close"].tolist(),
                df["volume"].tolist(),
            )
        )
        self._pos = 0

    def _load(self) -> bool:
        if self._pos >= len(self._rows):
            return False
        dt, o, h, lo, c, v = self._rows[self._pos]
        self._pos += 1
        lines = self.lines
        lines.datetime[0] = dt
        lines.open[0] = o
        lines.high[0] = h
        lines.low[0] = lo
        lines.close[0] = c
        lines.volume[0] = v
        lines.openinterest[0] = 0.0
        return True
