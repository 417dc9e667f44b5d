"""Strategies with known biases, for the look-ahead check's tests (loaded as path.py:Class)."""

from __future__ import annotations

import math

import backtrader as bt

from autostock.strategies.base import BaseStrategy


class PeekNextClose(BaseStrategy):
    """Long when tomorrow's close is higher than today's: reads ``data.close[1]`` (look-ahead)."""

    def next(self) -> None:
        if len(self.data) >= self.data.buflen():
            return  # the last preloaded bar has no tomorrow (itself a peek at the data's length)
        up = self.data.close[1] > self.data.close[0]
        if up and not self.position:
            self.buy()
        elif not up and self.position:
            self.close()


class RawEMA(bt.Indicator):
    """An EMA started from the first close with no warm-up: ``ema_t = ema_{t-1} + a (x_t - ema_{t-1})``."""

    lines = ("ema",)
    params = (("period", 100),)

    def next(self) -> None:
        prev = self.lines.ema[-1] if len(self) > 1 else float("nan")
        x = self.data[0]
        alpha = 2.0 / (self.p.period + 1.0)
        self.lines.ema[0] = x if math.isnan(prev) else prev + alpha * (x - prev)


class ColdEMA(BaseStrategy):
    """Long above a 100-bar EMA that starts trading at its first bar (insufficiently warmed)."""

    def __init__(self) -> None:
        super().__init__()
        self.ema = RawEMA(self.data.close, period=100)

    def next(self) -> None:
        above = self.data.close[0] > self.ema[0]
        if above and not self.position:
            self.buy()
        elif not above and self.position:
            self.close()
