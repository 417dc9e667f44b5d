"""Buy and hold."""

from __future__ import annotations

from typing import Any

import backtrader as bt

from autostock.registry import STRATEGIES
from autostock.strategies.base import SignalStrategy


class _Always(bt.Indicator):
    lines = ("signal",)

    def next(self) -> None:
        self.lines.signal[0] = 1.0  # type: ignore[attr-defined]


@STRATEGIES.register("buy_hold")
class BuyHold(SignalStrategy):
    """Buy every symbol on the first bar and hold to the end.

    Signal: ``+1`` on every bar. Size: the sizer (equal weight across symbols by default).
    """

    @classmethod
    def signal(cls, data: Any, p: Any) -> Any:
        return _Always(data)
