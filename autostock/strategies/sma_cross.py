"""Moving-average crossover."""

from __future__ import annotations

from typing import Any

import backtrader as bt

from autostock.errors import ConfigError
from autostock.registry import STRATEGIES
from autostock.strategies.base import SignalStrategy


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
        return 2 * (fast > slow) - 1
