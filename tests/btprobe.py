"""Run one indicator through backtrader and collect its value at every bar (test helper)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd


def line_values(df: pd.DataFrame, build: Callable[[Any], Any], runonce: bool) -> np.ndarray:
    """``build(data)`` makes the line inside a strategy; returns its value per bar."""
    values: list[float] = []

    class Probe(bt.Strategy):
        def __init__(self) -> None:
            self.line = build(self.data)

        def next(self) -> None:
            values.append(self.line[0])

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=df))
    cerebro.addstrategy(Probe)
    cerebro.run(runonce=runonce)
    return np.array(values)
