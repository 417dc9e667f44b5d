"""Walk-forward analysis: optimise in each in-sample window, trade the chosen params on the
following out-of-sample window, stitch the out-of-sample returns into one equity curve.

Windows (rolling, or ``anchored`` at the first date)::

    fold k:  in-sample [train_start_k, test_start_k)   out-of-sample [test_start_k, test_start_k + test)
    test_start_{k+1} = test_start_k + test

so out-of-sample slices are consecutive and never overlap, and each in-sample window ends
before its out-of-sample slice begins. The out-of-sample run starts at the fold's in-sample
start so indicators are warm, but only returns dated inside the out-of-sample slice count:
every decision in them uses the chosen params (fitted on earlier data) and past bars only.

Walk-forward efficiency (WFE) = out-of-sample annualised return / in-sample annualised return.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.config import RunSpec
from autostock.errors import ConfigError
from autostock.feeds.market import Market
from autostock.robustness.executor import Executor
from autostock.robustness.optimize import (
    OBJECTIVES,
    TRIAL_METRICS,
    TRIAL_RETURNS_FILE,
    TrialContext,
    TrialJob,
    best_trial,
    evaluate_trials,
    grid_trials,
    plain_value,
    random_trials,
    trial_matrix,
)

_DURATION = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "w": "weeks", "m": "months", "y": "years"}


def parse_duration(text: str, flag: str = "--train") -> pd.DateOffset:
    """``3y``, ``6m``, ``4w``, ``90d`` (calendar units) -> a DateOffset."""
    m = _DURATION.match(str(text))
    if not m or int(m.group(1)) < 1:
        raise ConfigError(f"{flag} {text!r}: expected a positive duration like 3y, 6m, 4w or 90d")
    return pd.DateOffset(**{_UNITS[m.group(2).lower()]: int(m.group(1))})


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold; dates are trading dates (inclusive bounds)."""

    index: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp

    def as_dict(self) -> dict[str, str]:
        return {k: str(getattr(self, k).date()) for k in ("train_start", "train_end", "test_start", "test_end")}


def make_folds(
    dates: pd.DatetimeIndex, train: pd.DateOffset, test: pd.DateOffset, anchored: bool = False, min_test_bars: int = 5
) -> list[Fold]:
    """Cut ``dates`` into walk-forward folds (see the module docstring).

    A final out-of-sample slice shorter than ``min_test_bars`` trading days is dropped.
    """
    dates = pd.DatetimeIndex(dates).sort_values().unique()
    if len(dates) < 2:
        raise ConfigError("walk-forward needs at least 2 dates")
    first, last = dates[0], dates[-1]
    folds: list[Fold] = []
    test_start = first + train
    while test_start <= last:
        test_stop = test_start + test  # exclusive
        train_start = first if anchored else max(first, test_start - train)
        is_dates = dates[(dates >= train_start) & (dates < test_start)]
        oos_dates = dates[(dates >= test_start) & (dates < test_stop)]
        if len(oos_dates) >= min_test_bars and len(is_dates) >= 2:
            folds.append(Fold(len(folds), is_dates[0], is_dates[-1], oos_dates[0], oos_dates[-1]))
        test_start = test_stop
    if not folds:
        raise ConfigError(
            f"no walk-forward fold fits: the data covers {first.date()} to {last.date()}, shorter than "
            f"the training window plus a test window"
        )
    return folds


@dataclass
class WalkForwardResult:
    """Per-fold table, all in-sample trials, the stitched out-of-sample curve and its metrics."""

    folds: pd.DataFrame
    trials: pd.DataFrame
    oos_returns: pd.Series
    oos_equity: pd.Series
    benchmark: pd.Series | None
    metrics: dict[str, Any]
    wfe: float | None
    settings: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    overfitting: dict[str, Any] = field(default_factory=dict)
    is_returns: dict[int, pd.Series] = field(default_factory=dict, repr=False)

    def trial_returns(self) -> pd.DataFrame:
        """Every in-sample trial's daily returns, long: date, fold, trial, return."""
        n = max(1, int(self.settings.get("candidates_per_fold", 1)))
        rows = [
            pd.DataFrame({"date": r.index, "fold": trial // n, "trial": trial, "return": r.to_numpy()})
            for trial, r in sorted(self.is_returns.items())
        ]
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["date", "fold", "trial", "return"])

    def summary(self) -> dict[str, Any]:
        return {
            "verdict": self.overfitting.get("verdict"),
            "overfitting": self.overfitting,
            "trial_returns_file": TRIAL_RETURNS_FILE,
            "settings": self.settings,
            "walk_forward_efficiency": self.wfe,
            "oos_metrics": self.metrics,
            "folds": json.loads(self.folds.to_json(orient="records")),
            "interrupted": self.interrupted,
        }


def _wfe(oos_cagr: float | None, is_cagr: float | None) -> float | None:
    if oos_cagr is None or is_cagr is None or not np.isfinite(oos_cagr) or not np.isfinite(is_cagr) or is_cagr == 0:
        return None
    return float(oos_cagr / is_cagr)


def walk_forward(
    spec: RunSpec,
    market: Market,
    grid: dict[str, list[Any]],
    train: str | pd.DateOffset = "3y",
    test: str | pd.DateOffset = "6m",
    anchored: bool = False,
    objective: str = "sharpe",
    method: str = "grid",
    trials: int | None = None,
    seed: int | None = None,
    executor: Executor | None = None,
) -> WalkForwardResult:
    """Run a walk-forward analysis of ``spec`` over ``market``.

    Parameters
    ----------
    grid : dict
        Param name -> candidate values, searched in every in-sample window.
    train, test : str or DateOffset
        In-sample and out-of-sample window lengths (``3y``, ``6m``, ...).
    anchored : bool
        In-sample windows all start at the first date (growing) instead of rolling.
    objective, method, trials, seed
        As for :func:`autostock.robustness.optimize.optimize`; ``method`` is grid or random.
    """
    from autostock.reports.metrics import benchmark_returns, compute_metrics

    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVES)}")
    if method not in ("grid", "random"):
        raise ConfigError(f"walkforward supports --method grid or random, got {method!r}")
    train_off = train if isinstance(train, pd.DateOffset) else parse_duration(train, "--train")
    test_off = test if isinstance(test, pd.DateOffset) else parse_duration(test, "--test")
    seed = spec.seed if seed is None else seed
    from autostock.engine import (
        market_for,  # lazy: backtrader loads only when a run starts
    )

    market = market_for(spec, market)
    folds = make_folds(market.dates(), train_off, test_off, anchored)
    candidates = grid_trials(grid) if method == "grid" else random_trials(grid, trials or 50, seed)
    ctx = TrialContext(spec, market, objective)
    own = executor is None
    executor = executor or Executor()
    try:
        is_jobs = [
            TrialJob(f.index * len(candidates) + i, p, str(f.train_start.date()), str(f.train_end.date()))
            for f in folds
            for i, p in enumerate(candidates)
        ]
        done, is_rows, is_returns = evaluate_trials(executor, ctx, is_jobs, "walk-forward in-sample")
        trials_table = pd.DataFrame(
            is_rows, columns=["trial", *grid, *TRIAL_METRICS, "final_value", "objective", "status"]
        )
        trials_table.insert(0, "fold", trials_table["trial"] // len(candidates))
        chosen: dict[int, dict[str, Any]] = {}
        for f in folds:
            best = best_trial(trials_table[trials_table["fold"] == f.index], list(grid))
            if best is not None:
                chosen[f.index] = best
        oos_jobs = [
            TrialJob(f.index, {**chosen[f.index]["params"]}, str(f.train_start.date()), str(f.test_end.date()))
            for f in folds
            if f.index in chosen and not done.interrupted
        ]
        done_oos, oos_rows, oos_returns = evaluate_trials(executor, ctx, oos_jobs, "walk-forward out-of-sample")
    finally:
        if own:
            executor.close()
    if not chosen and len(trials_table):
        raise ConfigError(f"no valid params in any in-sample window; first: {trials_table['status'].iloc[0]}")

    pieces, rows = [], []
    for f in folds:
        row: dict[str, Any] = {"fold": f.index, **f.as_dict()}
        best = chosen.get(f.index)
        row.update({k: (best["params"].get(k) if best else None) for k in grid})
        row["is_objective"] = best["objective"] if best else None
        row.update({f"is_{k}": (best["metrics"].get(k) if best else None) for k in ("cagr", "sharpe", "max_drawdown")})
        rets = oos_returns.get(f.index)
        if rets is not None:
            piece = rets[(rets.index >= f.test_start) & (rets.index <= f.test_end)]
            pieces.append(piece)
            bench = benchmark_returns(market, piece.index)
            m = compute_metrics(piece, bench)
            row.update({f"oos_{k}": m.get(k) for k in ("cagr", "sharpe", "max_drawdown", "total_return")})
        else:
            row.update({f"oos_{k}": None for k in ("cagr", "sharpe", "max_drawdown", "total_return")})
        row["wfe"] = _wfe(row["oos_cagr"], row["is_cagr"])
        rows.append(row)
    folds_table = pd.DataFrame(rows)
    oos = pd.concat(pieces).sort_index() if pieces else pd.Series(dtype=float)
    if oos.index.has_duplicates:  # guarded by make_folds; a duplicate would mean overlapping slices
        raise RuntimeError("out-of-sample slices overlap")
    equity = spec.cash * (1.0 + oos).cumprod()
    bench = benchmark_returns(market, oos.index) if len(oos) else None
    metrics = compute_metrics(oos, bench) if len(oos) else {}
    for key in ("n_trades", "win_rate", "profit_factor"):  # returns only: no trade list
        metrics.pop(key, None)
    is_cagrs = pd.to_numeric(folds_table["is_cagr"], errors="coerce").dropna()
    wfe = _wfe(metrics.get("cagr"), float(is_cagrs.mean()) if len(is_cagrs) else None)
    settings = {
        "strategy": spec.strategy,
        "base_params": spec.params,
        "grid": grid,
        "train": str(train),
        "test": str(test),
        "anchored": anchored,
        "objective": objective,
        "method": method,
        "seed": seed,
        "executor": executor.name,
        "data": market.label,
        "symbols": market.symbols,
        "candidates_per_fold": len(candidates),
        "notes": list(market.notes),
    }
    from autostock.sim.vectorsim import engine_note

    settings["engine"] = engine_note(spec, market)  # each fold's trials run through vectorsim.run
    stats = overfitting(oos, is_returns, folds, len(candidates))
    return WalkForwardResult(
        folds_table,
        trials_table,
        oos,
        equity,
        bench,
        metrics,
        wfe,
        settings,
        done.interrupted or done_oos.interrupted,
        stats,
        is_returns,
    )


def overfitting(
    oos: pd.Series, is_returns: dict[int, pd.Series], folds: list[Fold], n_candidates: int, n_splits: int = 16
) -> dict[str, Any]:
    """DSR of the stitched out-of-sample returns, PBO of each fold's in-sample search, one verdict.

    The DSR deflates the out-of-sample Sharpe by the ``n_candidates`` tried in each window and
    the mean variance of their in-sample Sharpe ratios (conservative: the out-of-sample
    returns were not themselves selected). PBO is computed per fold over its candidates'
    in-sample returns; the verdict uses the median.
    """
    from scipy import stats as sps

    from autostock.robustness.stats import (
        deflated_sharpe_ratio,
        overfitting_verdict,
        probability_of_backtest_overfitting,
        sharpe_per_period,
    )

    pbos: dict[int, float | None] = {}
    variances = []
    for f in folds:
        ids = [f.index * n_candidates + i for i in range(n_candidates)]
        frame = trial_matrix({i: is_returns[i] for i in ids if i in is_returns})
        if frame.shape[1] >= 2:
            sharpes = [sharpe_per_period(frame[c].to_numpy()) for c in frame.columns]
            finite = [x for x in sharpes if np.isfinite(x)]
            if len(finite) >= 2:
                variances.append(float(np.var(finite, ddof=1)))
        splits = min(n_splits, (len(frame) // 4) // 2 * 2)
        pbos[f.index] = (
            probability_of_backtest_overfitting(frame.to_numpy(), splits).pbo
            if frame.shape[1] >= 2 and splits >= 2
            else None
        )
    known = [v for v in pbos.values() if v is not None]
    pbo_median = float(np.median(known)) if known else None
    r = oos.to_numpy(dtype=float)
    r = r[np.isfinite(r)]
    dsr = None
    if len(r) > 2:
        dsr = deflated_sharpe_ratio(
            sharpe_per_period(r),
            len(r),
            float(sps.skew(r)),
            float(sps.kurtosis(r, fisher=True) + 3.0),
            max(1, n_candidates),
            float(np.mean(variances)) if variances else 0.0,
        ).to_dict()
    verdict = overfitting_verdict((dsr or {}).get("dsr"), pbo_median, max(1, n_candidates)).to_dict()
    return {
        "deflated_sharpe": dsr,
        "pbo_per_fold": pbos,
        "pbo_median": pbo_median,
        "n_trials": max(1, n_candidates),
        "n_trials_total": len(is_returns),
        "verdict": verdict,
        "note": "DSR of the stitched out-of-sample returns, deflated by the candidates tried per window; "
        "PBO of each window's in-sample search (median across windows)",
    }


def write_walkforward(result: WalkForwardResult, out: str | Path, tearsheet: bool = True) -> dict[str, Path]:
    """Write ``walkforward.csv`` (per fold), ``walkforward.json``, ``walkforward_trials.csv``,
    ``oos_equity.csv``, ``trial_returns.csv`` (every in-sample trial's daily returns: date, fold,
    trial, return) and the stitched QuantStats ``tearsheet.html``."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "folds": out_dir / "walkforward.csv",
        "json": out_dir / "walkforward.json",
        "trials": out_dir / "walkforward_trials.csv",
        "equity": out_dir / "oos_equity.csv",
        "trial_returns": out_dir / TRIAL_RETURNS_FILE,
    }
    result.trial_returns().to_csv(files["trial_returns"], index=False, float_format="%.12g")
    result.folds.to_csv(files["folds"], index=False, float_format="%.10g")
    result.trials.to_csv(files["trials"], index=False, float_format="%.10g")
    pd.DataFrame({"value": result.oos_equity, "returns": result.oos_returns}).to_csv(
        files["equity"], index_label="date"
    )
    files["json"].write_text(
        json.dumps(result.summary(), indent=2, default=lambda v: plain_value(v) if hasattr(v, "item") else str(v))
    )
    if tearsheet and len(result.oos_returns) > 2:
        from autostock.reports.qs_page import tearsheet_page

        files["tearsheet"] = tearsheet_page(
            result.oos_returns,
            result.benchmark,
            out_dir / "tearsheet.html",
            f"Walk-forward out-of-sample: {result.settings['strategy']}",
        )
    return files
