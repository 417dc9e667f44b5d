"""``VolumeProfile``: rolling point of control and value area as a backtrader indicator."""

from __future__ import annotations

import backtrader as bt
import numpy as np

from autostock.models.features_micro import volume_profile


class VolumeProfile(bt.Indicator):
    """Rolling volume profile over ``period`` bars.

    Each bar's volume sits at its typical price ``(high + low + close) / 3``; the window's
    price range is cut into ``bins`` equal bins. ``poc``: centre of the bin with the most
    volume. ``vah`` / ``val``: top / bottom of the bins that, taken by volume, first cover
    ``value_area`` of the window's volume. Same numbers as the ``volume_profile`` features
    (:func:`autostock.models.features_micro.volume_profile`) on bars without a VWAP column.

    Params: ``period`` (20), ``bins`` (24), ``value_area`` (0.7).
    """

    lines = ("poc", "vah", "val")
    params = (("period", 20), ("bins", 24), ("value_area", 0.7))

    def __init__(self) -> None:
        if self.p.period < 2 or self.p.bins < 1 or not 0 < self.p.value_area <= 1:
            raise ValueError(
                f"VolumeProfile needs period >= 2, bins >= 1, 0 < value_area <= 1; got "
                f"{self.p.period}, {self.p.bins}, {self.p.value_area}"
            )
        self.addminperiod(self.p.period)

    def _typical(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        d = self.data
        h = np.asarray(d.high.array[start:end], float)
        lo = np.asarray(d.low.array[start:end], float)
        c = np.asarray(d.close.array[start:end], float)
        return (h + lo + c) / 3.0, np.asarray(d.volume.array[start:end], float)

    def next(self) -> None:
        n = self.p.period
        d = self.data
        price = np.array([(d.high[-i] + d.low[-i] + d.close[-i]) / 3.0 for i in range(n - 1, -1, -1)])
        volume = np.array([d.volume[-i] for i in range(n - 1, -1, -1)])
        poc, vah, val = volume_profile(price, volume, n, self.p.bins, self.p.value_area)
        self.lines.poc[0], self.lines.vah[0], self.lines.val[0] = poc[-1], vah[-1], val[-1]  # type: ignore[attr-defined]

    def once(self, start: int, end: int) -> None:
        price, volume = self._typical(0, end)
        poc, vah, val = volume_profile(price, volume, self.p.period, self.p.bins, self.p.value_area)
        for line, values in ((self.lines.poc, poc), (self.lines.vah, vah), (self.lines.val, val)):  # type: ignore[attr-defined]
            arr = line.array
            for i in range(start, end):
                arr[i] = values[i]
