"""Monte Carlo: the same run spec over many resampled histories.

``bars`` mode runs the full backtest (same strategy, params, sizer and costs, through
:func:`autostock.engine.run_backtest`) over stationary-bootstrap paths of the market
(:mod:`autostock.robustness.resample`). ``trades`` mode takes the realised P&L of the
historical backtest's closed trades, shuffles or bootstraps its order, and places the
resampled P&L on the original exit dates (the equity steps at exits: no mark-to-market).

Memory stays flat as paths grow: each path returns one row of metrics; only the first
``sample`` paths also return their equity curve (for the fan chart).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.config import RunSpec
from autostock.errors import ConfigError
from autostock.feeds.market import Market
from autostock.robustness.executor import Executor
from autostock.robustness.resample import TRADE_METHODS, RelativeBars, path_rng, resample_market, resample_trade_pnl

MODES: tuple[str, ...] = ("bars", "trades")
PATH_METRICS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "n_trades",
)
SUMMARY_METRICS: tuple[str, ...] = ("cagr", "sharpe", "max_drawdown", "final_value")
PERCENTILES: tuple[int, ...] = (5, 25, 50, 75, 95)


@dataclass
class BarsContext:
    """Base data of a bars-mode Monte Carlo, sent to each worker once."""

    spec: RunSpec
    market: Market
    block: float
    seed: int
    sample: int
    _relative: RelativeBars | None = field(default=None, repr=False)

    def relative(self) -> RelativeBars:
        # computed once per worker (per copy of the context), reused by every path
        if self._relative is None:
            self._relative = RelativeBars(self.market)
        return self._relative


@dataclass
class TradesContext:
    """Base data of a trades-mode Monte Carlo: realised P&L, exit positions on the calendar."""

    pnl: np.ndarray
    exit_pos: np.ndarray
    dates: pd.DatetimeIndex
    cash: float
    benchmark: pd.Series | None
    method: str
    seed: int
    sample: int


def _row(path: int, metrics: dict[str, Any], final_value: float) -> dict[str, Any]:
    row: dict[str, Any] = {"path": path}
    row.update({k: metrics.get(k) for k in PATH_METRICS})
    row["final_value"] = final_value
    return row


def bars_path(ctx: BarsContext, path: int) -> tuple[dict[str, Any], np.ndarray | None]:
    """Run the spec over Monte Carlo path ``path``: (metrics row, equity curve or None)."""
    from autostock.sim.vectorsim import run as run_fast  # vectorised where it applies, else backtrader

    market = resample_market(ctx.relative(), ctx.block, ctx.seed, path)
    result, _ = run_fast(ctx.spec, market)
    curve = result.equity["value"].to_numpy(dtype=np.float64) if path < ctx.sample else None
    return _row(path, result.metrics, result.final_value), curve


def trade_curve(pnl: np.ndarray, exit_pos: np.ndarray, n_dates: int, cash: float) -> np.ndarray:
    """Daily equity from trade P&L booked at exit positions (indices into the calendar)."""
    daily = np.zeros(n_dates)
    np.add.at(daily, exit_pos, pnl)
    return cash + np.cumsum(daily)


def _curve_metrics(values: np.ndarray, ctx: TradesContext) -> dict[str, Any]:
    from autostock.reports.metrics import compute_metrics

    equity = pd.Series(values, index=ctx.dates)
    returns = equity.pct_change()
    returns.iloc[0] = equity.iloc[0] / ctx.cash - 1.0
    metrics = compute_metrics(returns, ctx.benchmark, None)
    metrics["n_trades"] = len(ctx.pnl)
    return metrics


def trades_path(ctx: TradesContext, path: int) -> tuple[dict[str, Any], np.ndarray | None]:
    """One trade-P&L resample: (metrics row, equity curve or None)."""
    pnl = resample_trade_pnl(ctx.pnl, path_rng(ctx.seed, path), ctx.method)
    values = trade_curve(pnl, ctx.exit_pos, len(ctx.dates), ctx.cash)
    return _row(path, _curve_metrics(values, ctx), float(values[-1])), (values if path < ctx.sample else None)


@dataclass
class MonteCarloResult:
    """Per-path metrics, a bounded sample of equity curves, and the historical run."""

    table: pd.DataFrame
    curves: dict[int, np.ndarray]
    dates: pd.DatetimeIndex
    historical: dict[str, Any]
    historical_curve: np.ndarray
    settings: dict[str, Any]
    interrupted: bool = False

    def summary(self, dd_limit: float) -> dict[str, Any]:
        """The content of ``montecarlo.json``."""
        return summarize(self.table, self.historical, self.settings["cash"], dd_limit) | {
            "settings": self.settings,
            "historical": self.historical,
            "completed_paths": int(len(self.table)),
            "interrupted": self.interrupted,
        }


def _finite(values: pd.Series) -> np.ndarray:
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return arr[np.isfinite(arr)]


def summarize(table: pd.DataFrame, historical: dict[str, Any], cash: float, dd_limit: float) -> dict[str, Any]:
    """Percentiles 5/25/50/75/95 of CAGR, Sharpe, max drawdown and final value; probability of
    loss; probability that the max drawdown exceeds ``dd_limit`` (a positive fraction); and the
    percentile of the historical run within the paths."""
    if not (0 < dd_limit < 1):
        raise ConfigError(f"drawdown limit must be a fraction between 0 and 1, got {dd_limit}")
    out: dict[str, Any] = {"percentiles": {}, "historical_percentile": {}}
    for metric in SUMMARY_METRICS:
        vals = _finite(table[metric]) if metric in table else np.array([])
        out["percentiles"][metric] = (
            {f"p{p}": float(np.percentile(vals, p)) for p in PERCENTILES} if len(vals) else None
        )
        hist = historical.get(metric)
        out["historical_percentile"][metric] = (
            float(np.mean(vals <= hist) * 100) if len(vals) and hist is not None else None
        )
    final = _finite(table["final_value"]) if len(table) else np.array([])
    mdd = _finite(table["max_drawdown"]) if len(table) else np.array([])
    out["probability_of_loss"] = float(np.mean(final < cash)) if len(final) else None
    out["max_drawdown_limit"] = dd_limit
    out["probability_drawdown_exceeds_limit"] = float(np.mean(np.abs(mdd) > dd_limit)) if len(mdd) else None
    return out


def run_montecarlo(
    spec: RunSpec,
    market: Market,
    paths: int = 500,
    block: float = 20.0,
    seed: int | None = None,
    mode: str = "bars",
    trade_method: str = "bootstrap",
    sample: int = 100,
    executor: Executor | None = None,
) -> MonteCarloResult:
    """Run the historical backtest once, then ``paths`` resampled runs.

    Parameters
    ----------
    spec, market : RunSpec, Market
        The run and its historical data (already sliced to the run's symbols and dates).
    paths : int
        Number of Monte Carlo paths.
    block : float
        Mean block length in days of the stationary bootstrap (bars mode).
    seed : int or None
        Seed of the paths (default: ``spec.seed``); path ``i`` depends only on (seed, i).
    mode : {"bars", "trades"}
        Resample the market's bars, or the realised trade P&L of the historical run.
    trade_method : {"shuffle", "bootstrap"}
        Trades mode: permute the P&L sequence, or draw it with replacement.
    sample : int
        Equity curves kept for the fan chart (the first ``sample`` paths).
    executor : Executor or None
        Where the paths run (default: a local pool on all cores).
    """
    from autostock.engine import market_for, run_backtest

    if mode not in MODES:
        raise ConfigError(f"unknown Monte Carlo mode {mode!r}; valid: {', '.join(MODES)}")
    if trade_method not in TRADE_METHODS:
        raise ConfigError(f"unknown trade resampling method {trade_method!r}; valid: {', '.join(TRADE_METHODS)}")
    if paths < 1:
        raise ConfigError(f"paths must be >= 1, got {paths}")
    if sample < 0:
        raise ConfigError(f"curve sample size must be >= 0, got {sample}")
    if not (block >= 1):
        raise ConfigError(f"block must be >= 1 (mean block length in days), got {block}")
    seed = spec.seed if seed is None else seed
    own_executor = executor is None
    executor = executor or Executor()
    market = market_for(spec, market)

    historical = run_backtest(spec, market)
    settings: dict[str, Any] = {
        "strategy": spec.strategy,
        "params": historical.params,
        "sizer": spec.sizer,
        "mode": mode,
        "paths": paths,
        "seed": seed,
        "cash": spec.cash,
        "executor": executor.name,
        "data": market.label,
        "symbols": market.symbols,
        "start": str(historical.equity.index[0].date()),
        "end": str(historical.equity.index[-1].date()),
        "notes": list(market.notes),
    }
    if mode == "bars":
        ctx: Any = BarsContext(spec, market, block, seed, sample)
        dates = ctx.relative().dates
        hist_metrics = dict(historical.metrics, final_value=historical.final_value)
        hist_curve = historical.equity["value"].to_numpy(dtype=float)
        settings["block"] = block
        from autostock.sim.vectorsim import engine_note

        settings["engine"] = engine_note(spec, market)
        func: Any = bars_path
    else:
        trades = historical.trades
        dates = historical.equity.index
        if trades.empty:
            raise ConfigError(f"strategy {spec.strategy!r} closed no trades: nothing to resample in trades mode")
        trades = trades.sort_values("exit_date", kind="stable")
        exit_pos = np.clip(dates.searchsorted(pd.DatetimeIndex(trades["exit_date"])), 0, len(dates) - 1)
        ctx = TradesContext(
            trades["pnl_after_costs"].to_numpy(dtype=float),
            exit_pos,
            dates,
            spec.cash,
            historical.benchmark_returns,
            trade_method,
            seed,
            sample,
        )
        hist_curve = trade_curve(ctx.pnl, exit_pos, len(dates), spec.cash)
        hist_metrics = dict(_curve_metrics(hist_curve, ctx), final_value=float(hist_curve[-1]))
        settings["trade_method"] = trade_method
        mtm = historical.metrics.get("max_drawdown")
        settings["measures"] = "closed trades only"
        settings["closed_trade_max_drawdown"] = hist_metrics.get("max_drawdown")
        settings["mark_to_market_max_drawdown"] = mtm
        settings["notes"].append(
            "trades mode: equity steps at trade exits (closed trades only, no mark-to-market), so its drawdowns "
            "understate the real one: the backtest's mark-to-market max drawdown is "
            + (f"{mtm:.1%}" if mtm is not None else "n/a")
            + f" vs {hist_metrics.get('max_drawdown', float('nan')):.1%} on closed trades"
        )
        func = trades_path
    try:
        done = executor.map(func, ctx, range(paths), desc=f"montecarlo {mode}")
    finally:
        if own_executor:
            executor.close()
    rows = [r[0] for r in done.results]
    curves = {r[0]["path"]: r[1] for r in done.results if r[1] is not None}
    table = pd.DataFrame(rows, columns=["path", *PATH_METRICS, "final_value"])
    return MonteCarloResult(table, curves, dates, hist_metrics, hist_curve, settings, done.interrupted)


def write_montecarlo(result: MonteCarloResult, out: str | Path, dd_limit: float = 0.2) -> dict[str, Path]:
    """Write ``montecarlo.json``, ``paths.csv``, the PNG charts and ``montecarlo.html``."""
    from autostock.robustness import charts

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = result.summary(dd_limit)
    files = {
        "json": out_dir / "montecarlo.json",
        "paths": out_dir / "paths.csv",
        "histograms": out_dir / "montecarlo_histograms.png",
        "fan": out_dir / "montecarlo_fan.png",
        "html": out_dir / "montecarlo.html",
    }
    files["json"].write_text(json.dumps(summary, indent=2, default=str))
    result.table.to_csv(files["paths"], index=False, float_format="%.10g")
    title = f"{result.settings['strategy']} - {len(result.table)} paths ({result.settings['mode']})"
    if result.settings["mode"] == "trades":
        mtm = result.settings.get("mark_to_market_max_drawdown")
        title += " - closed trades only; real backtest mark-to-market max drawdown " + (
            f"{mtm:.1%}" if mtm is not None else "n/a"
        )
    charts.histograms(result.table, result.historical, files["histograms"], title)
    charts.fan_chart(result.dates, result.curves, result.historical_curve, files["fan"], title)
    charts.montecarlo_html(summary, [files["histograms"], files["fan"]], files["html"])
    return files
