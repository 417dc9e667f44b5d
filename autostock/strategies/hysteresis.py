"""Hysteresis band: a stateful desired-position indicator used by reversion strategies."""

from __future__ import annotations

import backtrader as bt


class Band(bt.Indicator):
    """Desired position from an oscillator ``x`` with entry and exit levels.

    Long when ``x < long_entry``, held until ``x > long_exit``; short when
    ``x > short_entry``, held until ``x < short_exit``. Values: +1, -1 or 0. Depends only
    on bars up to the current one.
    """

    lines = ("signal",)
    params = (("long_entry", 30.0), ("long_exit", 50.0), ("short_entry", 70.0), ("short_exit", 50.0))

    def nextstart(self) -> None:
        self.lines.signal[0] = 0.0
        self.next()

    def next(self) -> None:
        x = self.data[0]
        prev = self.lines.signal[-1] if len(self) > 1 else 0.0
        if prev != prev:
            prev = 0.0
        state = prev
        if prev > 0 and x > self.p.long_exit:
            state = 0.0
        elif prev < 0 and x < self.p.short_exit:
            state = 0.0
        if state == 0.0:
            if x < self.p.long_entry:
                state = 1.0
            elif x > self.p.short_entry:
                state = -1.0
        self.lines.signal[0] = state
