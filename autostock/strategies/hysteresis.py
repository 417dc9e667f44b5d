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

    def _step(self, prev: float, x: float) -> float:
        if prev != prev:
            prev = 0.0
        state = prev
        if (prev > 0 and x > self.p.long_exit) or (prev < 0 and x < self.p.short_exit):
            state = 0.0
        if state == 0.0:
            if x < self.p.long_entry:
                state = 1.0
            elif x > self.p.short_entry:
                state = -1.0
        return state

    def next(self) -> None:
        prev = self.lines.signal[-1] if len(self) > 1 else 0.0  # type: ignore[attr-defined]
        self.lines.signal[0] = self._step(prev, self.data[0])  # type: ignore[attr-defined]

    def once(self, start: int, end: int) -> None:
        src = self.data.array
        dst = self.lines.signal.array  # type: ignore[attr-defined]
        prev = dst[start - 1] if start > 0 else 0.0
        for i in range(start, end):
            prev = dst[i] = self._step(prev, src[i])
