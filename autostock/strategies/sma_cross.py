"""Moving-average crossover."""

from __future__ import annotations

from typing import Any

import backtrader as bt

from autostock.errors import ConfigError
from autostock.registry import STRATEGIES
from autostock.strategies.base import SignalStrategy


def _above(a: float, b: float) -> float:
    return 1.0 if a > b else -1.0


class Above(bt.LinesOperation):
    """``+1`` where line ``a`` is above line ``b``, else ``-1`` (NaN while either warms up).

    A line operation like backtrader's own ``a > b`` (one buffer, advanced once per bar),
    where ``2 * (a > b) - 1`` builds three and an indicator class adds its own bookkeeping
    to every bar. Give it lines (``indicator.lines[0]``).
    """

    def __init__(self, a: Any, b: Any) -> None:
        if not (isinstance(a, bt.LineSingle) and isinstance(b, bt.LineSingle)):
            # an indicator's warm-up reaches the operation only through its lines
            raise TypeError("Above(a, b) takes lines, e.g. Above(fast.lines[0], slow.lines[0])")
        super().__init__(a, b, _above)

    def _once_op(self, start: int, end: int) -> None:
        dst, a, b = self.array, self.a.array, self.b.array
        for i in range(start, end):
            dst[i] = 1.0 if a[i] > b[i] else -1.0


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
        return Above(fast.lines[0], slow.lines[0])
