"""Performance metrics from QuantStats and empyrical over daily returns (no hand-written formulas)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pandas as pd

from autostock.feeds.market import Market

PERIODS = 252


def benchmark_returns(market: Market, index: pd.DatetimeIndex) -> pd.Series | None:
    """Benchmark daily returns on the run's dates (benchmark close, forward-filled over
    dates it lacks only for alignment, never for trading). Without a benchmark in the data,
    the equal-weight buy-and-hold of the traded symbols is used (labelled in the summary)."""
    if market.benchmark is not None:
        close = market.benchmark
    else:
        closes = pd.concat({s: df["close"] for s, df in market.bars.items()}, axis=1)
        close = (closes / closes.bfill().iloc[0]).mean(axis=1)
    close = close.reindex(index.union(close.index)).ffill().reindex(index)
    rets = close.pct_change().fillna(0.0)
    rets.name = market.benchmark_symbol or "equal_weight"
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


def compute_metrics(returns: pd.Series, bench: pd.Series | None, trades: pd.DataFrame | None = None) -> dict[str, Any]:
    """The summary metrics; non-finite values (e.g. Sharpe with zero volatility) become ``None``."""
    import quantstats as qs

    r = returns.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = qs.stats
        m: dict[str, Any] = {
            "total_return": _safe(stats.comp, r),
            "cagr": _safe(stats.cagr, r, periods=PERIODS),
            "volatility": _safe(stats.volatility, r, periods=PERIODS),
            "sharpe": _safe(stats.sharpe, r, periods=PERIODS),
            "sortino": _safe(stats.sortino, r, periods=PERIODS),
            "max_drawdown": _safe(stats.max_drawdown, r),
            "calmar": _safe(stats.calmar, r, periods=PERIODS),
            "win_rate": _safe(stats.win_rate, r),
            "profit_factor": _safe(stats.profit_factor, r),
            "exposure": _safe(stats.exposure, r),
            "alpha": None,
            "beta": None,
        }
        if bench is not None and len(bench) > 2 and float(bench.std()) > 0:
            greeks = _safe(stats.greeks, r, bench, periods=PERIODS)
            if greeks is not None:
                m["alpha"], m["beta"] = greeks["alpha"], greeks["beta"]
        pnl = trades["pnl_after_costs"] if trades is not None and len(trades) else pd.Series(dtype=float)
        m["n_trades"] = len(pnl)
        m["trade_win_rate"] = _safe(stats.win_rate, pnl, prepare_returns=False) if len(pnl) else None
        m["trade_profit_factor"] = _safe(stats.profit_factor, pnl, prepare_returns=False) if len(pnl) else None
    return {k: (v if k == "n_trades" else _clean(v)) for k, v in m.items()}
