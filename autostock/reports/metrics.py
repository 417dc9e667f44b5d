"""Performance metrics from QuantStats and empyrical over per-bar returns (no hand-written formulas).

Conventions (stated because readers differ):

* every annualised figure (CAGR, volatility, Sharpe, Sortino, Calmar, alpha) uses the bar
  frequency of the returns, :func:`periods_per_year` (252 for daily bars, 252 x bars per
  session for intraday bars, 52 weekly, 12 monthly), reported as ``periods_per_year``;
* ``win_rate`` and ``profit_factor`` are per closed trade (after costs); the per-bar versions
  are ``daily_win_rate`` and ``daily_profit_factor`` (per bar for intraday data);
* ``exposure`` is the share of bars with a non-zero return, not rounded (QuantStats rounds it up
  to whole percent);
* ``alpha`` is QuantStats' greeks alpha: the per-bar regression intercept times
  ``periods_per_year`` (arithmetic annualisation, not compounded); ``beta`` its slope;
* without a benchmark in the data the benchmark is the equal-weight buy-and-hold basket of the
  traded symbols, named ``EQUAL_WEIGHT_BASKET`` (:data:`EQUAL_WEIGHT_NAME`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pandas as pd

from autostock.feeds.market import Market

PERIODS = 252  # trading days per year
EQUAL_WEIGHT_NAME = "EQUAL_WEIGHT_BASKET"


def periods_per_year(index: pd.DatetimeIndex) -> int:
    """Bars per year of a bar index: 252 for daily bars, 252 x the median bars per session for
    intraday bars, 52 for weekly and 12 for monthly bars (252 when there are too few bars)."""
    idx = pd.DatetimeIndex(index)
    if len(idx) < 3:
        return PERIODS
    per_day = pd.Series(1, index=idx).groupby(idx.normalize()).size()
    bars_per_session = int(per_day.median())
    if bars_per_session > 1:
        return PERIODS * bars_per_session
    days = float(pd.Series(idx).diff().dt.total_seconds().median()) / 86_400.0
    if days <= 4.5:
        return PERIODS
    if days <= 10:
        return 52
    if days <= 40:
        return 12
    return max(1, round(365.25 / days))


def benchmark_returns(market: Market, index: pd.DatetimeIndex) -> pd.Series | None:
    """Benchmark daily returns on the run's dates (benchmark close, forward-filled over
    dates it lacks only for alignment, never for trading). Without a benchmark in the data,
    the equal-weight buy-and-hold of the traded symbols is used, named ``EQUAL_WEIGHT_BASKET``
    (the summary's ``benchmark`` and the charts say so)."""
    if market.benchmark is not None:
        close = market.benchmark
    else:
        closes = pd.concat({s: df["close"] for s, df in market.bars.items()}, axis=1)
        close = (closes / closes.bfill().iloc[0]).mean(axis=1)
    close = close.reindex(index.union(close.index)).ffill().reindex(index)
    rets = close.pct_change().fillna(0.0)
    rets.name = (market.benchmark_symbol or "benchmark") if market.benchmark is not None else EQUAL_WEIGHT_NAME
    return rets


def _clean(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _safe(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A QuantStats value, or None where it is undefined (e.g. a division by zero volatility)."""
    try:
        return fn(*args, **kwargs)
    except (ZeroDivisionError, ValueError, FloatingPointError):
        return None


def compute_metrics(
    returns: pd.Series, bench: pd.Series | None, trades: pd.DataFrame | None = None, periods: int | None = None
) -> dict[str, Any]:
    """The summary metrics (see the module docstring for the conventions); non-finite values
    (e.g. Sharpe with zero volatility) become ``None``. ``periods`` (bars per year) defaults to
    :func:`periods_per_year` of the returns' index."""
    import quantstats as qs

    r = returns.astype(float)
    n_per_year = int(periods) if periods else periods_per_year(r.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = qs.stats
        valid = r.dropna()
        pnl = trades["pnl_after_costs"] if trades is not None and len(trades) else pd.Series(dtype=float)
        m: dict[str, Any] = {
            "total_return": _safe(stats.comp, r),
            "cagr": _safe(stats.cagr, r, periods=n_per_year),
            "volatility": _safe(stats.volatility, r, periods=n_per_year),
            "sharpe": _safe(stats.sharpe, r, periods=n_per_year),
            "sortino": _safe(stats.sortino, r, periods=n_per_year),
            "max_drawdown": _safe(stats.max_drawdown, r),
            "calmar": _safe(stats.calmar, r, periods=n_per_year),
            "n_trades": int(len(pnl)),
            "win_rate": _safe(stats.win_rate, pnl, prepare_returns=False) if len(pnl) else None,
            "profit_factor": _safe(stats.profit_factor, pnl, prepare_returns=False) if len(pnl) else None,
            "daily_win_rate": _safe(stats.win_rate, r),
            "daily_profit_factor": _safe(stats.profit_factor, r),
            # QuantStats' exposure (bars with a non-zero return) without its rounding up
            "exposure": float((valid != 0).sum() / len(valid)) if len(valid) else None,
            "alpha": None,
            "beta": None,
        }
        if bench is not None and len(bench) > 2 and float(bench.std()) > 0:
            greeks = _safe(stats.greeks, r, bench, periods=n_per_year)
            if greeks is not None:
                m["alpha"], m["beta"] = greeks["alpha"], greeks["beta"]
    out = {k: (v if k == "n_trades" else _clean(v)) for k, v in m.items()}
    out["periods_per_year"] = n_per_year
    return out
