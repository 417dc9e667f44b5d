"""``MarketRegime``: the bull / bear / sideways rule of :mod:`autostock.models.regime` in backtrader.

Line ``regime``: 1 bull, 0 sideways, -1 bear (NaN during the warm-up of
``max(slow, vol_long + 1)`` bars). In a backtest (``runonce=True``) ``once()`` labels the whole
series in one vectorised call; bar by bar (``runonce=False``, live data) ``next()`` labels the
newest bar from the last ``warmup`` closes. Both use the same rule and agree; the value at
bar t depends on closes up to t only.
"""

from __future__ import annotations

import backtrader as bt
import numpy as np

from autostock.models.regime import RegimeRule, regime_code_last, regime_codes


class MarketRegime(bt.Indicator):
    """Market regime code per bar.

    Formula (see :mod:`autostock.models.regime`)::

        trend = SMA(fast) / SMA(slow) - 1;  high_vol = std(logret, vol_window) > vol_mult * std(logret, vol_long)
        bull: trend > band and close > SMA(slow) and not high_vol
        bear: (trend < -band or high_vol) and close < SMA(slow);   sideways otherwise

    Params: fast (50), slow (200), band (0.02), vol_window (20), vol_long (120), vol_mult (1.5).
    """

    lines = ("regime",)
    params = (("fast", 50), ("slow", 200), ("band", 0.02), ("vol_window", 20), ("vol_long", 120), ("vol_mult", 1.5))
    plotinfo = dict(subplot=True, plotymargin=0.1)

    def __init__(self) -> None:
        p = self.p
        self.rule = RegimeRule(
            int(p.fast), int(p.slow), float(p.band), int(p.vol_window), int(p.vol_long), float(p.vol_mult)
        )
        self.addminperiod(self.rule.warmup)

    def next(self) -> None:
        closes = np.asarray(self.data.close.get(size=self.rule.warmup), dtype=float)
        self.lines.regime[0] = regime_code_last(closes, self.rule)  # type: ignore[attr-defined]

    def once(self, start: int, end: int) -> None:
        closes = np.asarray(self.data.close.array[:end], dtype=float)
        codes = regime_codes(closes, self.rule)
        out = self.lines.regime.array  # type: ignore[attr-defined]
        for i in range(start, end):
            out[i] = codes[i]
