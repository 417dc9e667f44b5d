"""RSI reversion."""

from __future__ import annotations

from typing import Any

import backtrader as bt

from autostock.errors import ConfigError
from autostock.registry import STRATEGIES
from autostock.strategies.base import SignalStrategy
from autostock.strategies.hysteresis import Band


@STRATEGIES.register("rsi")
class RsiReversion(SignalStrategy):
    """Buy oversold, sell when the RSI recovers.

    Formula: ``RSI = 100 - 100 / (1 + avg_gain / avg_loss)`` (Wilder, ``period`` bars). Long
    when RSI < ``oversold`` until RSI > ``exit``; short (if ``allow_short``) when
    RSI > ``overbought`` until RSI < ``exit``.

    Params: ``period`` (14), ``oversold`` (30), ``overbought`` (70), ``exit`` (50).
    """

    params = (("period", 14), ("oversold", 30.0), ("overbought", 70.0), ("exit", 50.0))

    @classmethod
    def signal(cls, data: Any, p: Any) -> Any:
        if not (0 < p.oversold < p.exit < p.overbought < 100):
            raise ConfigError(
                f"rsi needs 0 < oversold < exit < overbought < 100, got {p.oversold}, {p.exit}, {p.overbought}"
            )
        rsi = bt.indicators.RSI(data.close, period=p.period, safediv=True)
        return Band(rsi, long_entry=p.oversold, long_exit=p.exit, short_entry=p.overbought, short_exit=p.exit)
