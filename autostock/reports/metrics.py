"""Performance metrics over per-bar returns, by QuantStats' definitions.

Each figure is the QuantStats function of the same name (``comp``, ``cagr``, ``volatility``,
``sharpe``, ``sortino``, ``max_drawdown``, ``calmar``, ``win_rate``, ``profit_factor``,
``greeks``) written out in vectorised numpy, so a run does not import QuantStats (about 1.5 s
of CPU: seaborn, scipy.stats, yfinance) to print its summary; the report libraries are imported
only by the processes that draw reports. ``tests/reports/test_metrics_vs_quantstats.py`` checks
every figure against QuantStats itself (to 1e-12) on many series and edge cases. One
difference on purpose: QuantStats reads a series with no negative value and a value above 1 as
*prices*; these are always returns here.

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
from typing import Any

import numpy as np
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
    _, per_day = np.unique(idx.normalize().asi8, return_counts=True)
    bars_per_session = int(np.median(per_day))
    if bars_per_session > 1:
        return PERIODS * bars_per_session
    per_day_units = 86_400 * {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[idx.unit]
    days = float(np.median(np.diff(idx.asi8))) / per_day_units
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


def _ratio(num: float, den: float) -> float:
    """``num / den`` as numpy divides (inf or nan when ``den`` is 0); non-finite become None later."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(num) / np.float64(den))


def _cagr(r: np.ndarray, periods: int) -> float:
    """QuantStats ``cagr``: compounded total over ``count / periods`` years (nan if wealth < 0)."""
    wealth = float(np.prod(1.0 + r[np.isfinite(r)]))
    years = np.isfinite(r).sum() / periods
    if wealth < 0 or years == 0:
        return math.nan
    return float(abs(wealth) ** (1.0 / years) - 1)


def _max_drawdown(r: np.ndarray) -> float:
    """QuantStats ``max_drawdown`` of a return series: prices ``cumprod(1 + r)`` (missing returns
    as 0) against their running peak, with the starting equity 1.0 as the first peak."""
    if not len(r):
        return 0.0
    prices = np.cumprod(1.0 + np.where(np.isfinite(r), r, 0.0))
    peak = np.maximum.accumulate(np.maximum(prices, 1.0))
    return float(min(1.0, (prices / peak).min()) - 1)


def _win_rate(x: np.ndarray) -> float:
    """QuantStats ``win_rate``: positive over non-zero values (0.0 when none is non-zero)."""
    x = x[~np.isnan(x)]
    nonzero = int((x != 0).sum())
    return float((x > 0).sum() / nonzero) if nonzero else 0.0


def _profit_factor(x: np.ndarray) -> float:
    """QuantStats ``profit_factor``: the sum of values >= 0 over the absolute sum of those < 0."""
    wins = float(x[x >= 0].sum())
    losses = abs(float(x[x < 0].sum()))
    if losses == 0:
        return 0.0 if wins == 0 else math.inf
    return wins / losses


def _greeks(r: pd.Series, bench: pd.Series, periods: int) -> tuple[float, float]:
    """QuantStats ``greeks`` (alpha, beta): OLS slope of the paired observations and the
    intercept times ``periods``; a benchmark on other dates goes through QuantStats itself."""
    if set(bench.index) != set(r.index):  # QuantStats re-bases such a benchmark: use it
        import quantstats as qs

        g = qs.stats.greeks(r, bench, periods=periods)
        return float(g["alpha"]), float(g["beta"])
    paired = pd.DataFrame({"r": r, "b": bench.astype(float).replace([np.inf, -np.inf], np.nan)}).dropna()
    a, b = paired["r"].to_numpy(), paired["b"].to_numpy()
    cov = np.cov(a, b)
    beta = math.nan if cov[1, 1] == 0 else float(cov[0, 1] / cov[1, 1])
    alpha = (float(a.mean()) - beta * float(b.mean())) * periods
    return (0.0 if math.isnan(alpha) else alpha), (0.0 if math.isnan(beta) else beta)


def compute_metrics(
    returns: pd.Series, bench: pd.Series | None, trades: pd.DataFrame | None = None, periods: int | None = None
) -> dict[str, Any]:
    """The summary metrics (see the module docstring for the conventions); non-finite values
    (e.g. Sharpe with zero volatility) become ``None``. ``periods`` (bars per year) defaults to
    :func:`periods_per_year` of the returns' index."""
    r = returns.astype(float).replace([np.inf, -np.inf], np.nan)
    n_per_year = int(periods) if periods else periods_per_year(r.index)
    x = r.to_numpy()
    valid = x[~np.isnan(x)]
    pnl = trades["pnl_after_costs"].to_numpy(dtype=float) if trades is not None and len(trades) else np.empty(0)
    root = math.sqrt(n_per_year)
    std = float(np.std(valid, ddof=1)) if len(valid) > 1 else math.nan
    mean = float(valid.mean()) if len(valid) else math.nan
    downside = math.sqrt(float((valid[valid < 0] ** 2).sum()) / len(valid)) if len(valid) else math.nan
    cagr = _cagr(x, n_per_year)
    max_dd = _max_drawdown(x)
    m: dict[str, Any] = {
        "total_return": float(np.prod(1.0 + valid)) - 1,
        "cagr": cagr,
        "volatility": std * root,
        "sharpe": _ratio(mean, std) * root,
        "sortino": (math.nan if downside == 0 else _ratio(mean, downside)) * root,
        "max_drawdown": max_dd,
        "calmar": _ratio(cagr, abs(max_dd)),
        "n_trades": int(len(pnl)),
        "win_rate": _win_rate(pnl) if len(pnl) else None,
        "profit_factor": _profit_factor(pnl) if len(pnl) else None,
        "daily_win_rate": _win_rate(x),
        "daily_profit_factor": _profit_factor(x),
        # QuantStats' exposure (bars with a non-zero return) without its rounding up
        "exposure": float((valid != 0).sum() / len(valid)) if len(valid) else None,
        "alpha": None,
        "beta": None,
    }
    if bench is not None and len(bench) > 2 and float(bench.std()) > 0:
        m["alpha"], m["beta"] = _greeks(r, bench, n_per_year)
    out = {k: (v if k == "n_trades" else _clean(v)) for k, v in m.items()}
    out["periods_per_year"] = n_per_year
    return out
