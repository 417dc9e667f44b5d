"""The real GOOG daily bars (2004-08-19 to 2008-10-14) that matplotlib ships: always offline."""

from __future__ import annotations

from typing import Any

import pandas as pd

from autostock.feeds.market import COLUMNS, Market
from autostock.feeds.validate import find_gaps, validate_ohlcv


def load_sample() -> Market:
    """GOOG from ``matplotlib.cbook.get_sample_data('goog.npz')``, validated like any file.

    The benchmark is GOOG itself (buy and hold): the sample holds no index series.
    """
    from matplotlib import cbook

    data: Any = cbook.get_sample_data("goog.npz")
    arr = data["price_data"] if hasattr(data, "keys") else data
    df = pd.DataFrame({k: arr[k] for k in ("date",) + COLUMNS})
    df["date"] = pd.to_datetime(df["date"])
    for col in COLUMNS:
        df[col] = df[col].astype(float)
    validate_ohlcv(df, "matplotlib sample goog.npz")
    bars = df.set_index("date")
    return Market(
        bars={"GOOG": bars},
        source="sample (GOOG daily 2004-2008, matplotlib goog.npz)",
        benchmark=bars["close"].rename("GOOG"),
        benchmark_symbol="GOOG",
        notes=["benchmark is GOOG buy-and-hold: the sample data holds no index"],
        gaps=find_gaps(bars.index, "GOOG"),
    )
