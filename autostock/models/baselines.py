"""Naive forecasts every model is compared with (all causal: bar t uses closes up to t).

Return forecasts for a k-bar horizon:

* ``zero``: the forward return is 0 (a random walk);
* ``last_return``: the forward k-bar return equals the last k-bar return;
* ``moving_average``: the mean k-bar return over the last ``window`` bars.

For direction targets the same forecasts are mapped to an up-probability (1 if the
forecast is > 0, 0 if < 0, 0.5 for the zero forecast).

Price-level forecast: ``naive_last_price``, close[t + k] is forecast by close[t].
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BASELINES: tuple[str, ...] = ("zero", "last_return", "moving_average")


def baseline_returns(close: pd.Series, horizon: int, window: int = 20) -> pd.DataFrame:
    """The three naive forward-return forecasts per bar, indexed like ``close``."""
    c = close.astype(float)
    last = c / c.shift(horizon) - 1.0
    return pd.DataFrame(
        {
            "zero": pd.Series(0.0, index=c.index),
            "last_return": last,
            "moving_average": last.rolling(window, min_periods=window).mean(),
        }
    )


def baseline_probabilities(close: pd.Series, horizon: int, window: int = 20) -> pd.DataFrame:
    """Naive up-probabilities for direction targets (see the module docstring)."""
    ret = baseline_returns(close, horizon, window)
    return pd.DataFrame(
        np.where(ret.isna(), np.nan, np.where(ret > 0, 1.0, np.where(ret < 0, 0.0, 0.5))),
        index=ret.index,
        columns=ret.columns,
    )


def naive_last_price(close: pd.Series) -> pd.Series:
    """The naive price forecast for close[t + k] made at t: close[t]."""
    return close.astype(float).rename("naive_last_price")
