"""Moving-average crossover."""

from __future__ import annotations

from typing import Any

import backtrader as bt

from autostock.errors import ConfigError
from autostock.registry import STRATEGIES
from autostock.strategies.base import SignalStrategy


class Above(bt.Indicator):
    """``+1`` where the first input is above the second, else ``-1``: one line, where
    ``2 * (a > b) - 1`` builds three (each advanced on every bar)."""

    lines = ("signal",)

    def next(self) -> None:
        self.lines.signal[0] = 1.0 if self.data0[0] > self.data1[0] else -1.0  # type: ignore[attr-defined]

    def once(self, start: int, end: int) -> None:
        a, b = self.data0.lines[0].array, self.data1.lines[0].array
        out = self.lines.signal.array  # type: ignore[attr-defined]
        for i in range(start, end):
            out[i] = 1.0 if a[i] > b[i] else -1.0


@STRATEGIES.register("sma_cross")
class SmaCross(SignalStrategy):
    """Long while the fast simple moving average is above the slow one.

    Formula: ``signal = +1 if SMA(close, fast) > SMA(close, slow) else -1`` (``-1`` is flat
    unless ``allow_short``).

    Params: ``fast`` (10), ``slow`` (30), ``allow_short`` (False).
    """

    params = (("fast", 10), ("slow", 30))

    @classmethod
    def signal(cls, data: Any, p: Any) -> Any:
        if not (0 < p.fast < p.slow):
            raise ConfigError(f"sma_cross needs 0 < fast < slow, got fast={p.fast} slow={p.slow}")
        fast = bt.indicators.SMA(data.close, period=p.fast)
        slow = bt.indicators.SMA(data.close, period=p.slow)
        return Above(fast, slow)
