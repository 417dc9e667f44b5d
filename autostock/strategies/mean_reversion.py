"""Bollinger / z-score mean reversion."""

from __future__ import annotations

from typing import Any

import backtrader as bt

from autostock.errors import ConfigError
from autostock.registry import STRATEGIES
from autostock.strategies.base import SignalStrategy
from autostock.strategies.hysteresis import Band


class ZScore(bt.Indicator):
    """``z = (close - SMA(close, period)) / StdDev(close, period)``: price in Bollinger units."""

    lines = ("z",)
    params = (("period", 20),)

    def __init__(self) -> None:
        mean = bt.indicators.SMA(self.data, period=self.p.period)
        std = bt.indicators.StdDev(self.data, period=self.p.period)
        self.lines.z = bt.DivByZero(self.data - mean, std, zero=0.0)  # type: ignore[attr-defined]


@STRATEGIES.register("mean_reversion")
class MeanReversion(SignalStrategy):
    """Buy below the lower Bollinger band, exit back at the mean.

    Formula: ``z = (close - SMA) / StdDev`` over ``period`` bars. Long when ``z < -entry``
    until ``z > -exit``; short (if ``allow_short``) when ``z > entry`` until ``z < exit``.
    ``entry`` = 2 is the classic Bollinger band.

    Params: ``period`` (20), ``entry`` (2.0), ``exit`` (0.0).
    """

    params = (("period", 20), ("entry", 2.0), ("exit", 0.0))

    @classmethod
    def signal(cls, data: Any, p: Any) -> Any:
        if not (p.period >= 2 and p.entry > p.exit >= 0):
            raise ConfigError(
                f"mean_reversion needs period >= 2 and entry > exit >= 0, got {p.period}, {p.entry}, {p.exit}"
            )
        z = ZScore(data.close, period=p.period)  # type: ignore[call-arg]
        return Band(z, long_entry=-p.entry, long_exit=-p.exit, short_entry=p.entry, short_exit=p.exit)
