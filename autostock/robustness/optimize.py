"""Parameter optimisation over a grid (exhaustive, random subset, or Optuna TPE) with
overfitting statistics: the deflated Sharpe ratio of the best trial and the probability of
backtest overfitting (CSCV) over all trials' daily returns.

Each trial is one :func:`autostock.engine.run_backtest` of the base spec with the trial's
params merged over the spec's own; trials run on an :class:`Executor` (local pool or Dask).
A parameter combination the strategy rejects (e.g. ``fast >= slow``) is recorded as an
invalid trial and left out of the statistics.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.config import RunSpec, parse_value
from autostock.errors import ConfigError, UserError
from autostock.extras import require
from autostock.feeds.market import Market
from autostock.robustness.executor import Executor

OBJECTIVES: tuple[str, ...] = ("sharpe", "cagr", "calmar", "sortino")
METHODS: tuple[str, ...] = ("grid", "random", "optuna")
TRIAL_METRICS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "n_trades",
)
OPTUNA_BATCH = 8  # fixed, so the same seed gives the same trials whatever the executor


def _number(text: str, flag: str) -> int | float:
    value = parse_value(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{flag}: {text!r} is not a number")
    return value


def parse_grid(items: list[str] | tuple[str, ...]) -> dict[str, list[Any]]:
    """Parse ``--grid`` flags: ``name=start:stop:step`` (inclusive), ``name=start:stop`` (step 1)
    or ``name=v1,v2,...``; values keep their type (int, float, bool or string)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        name = name.strip()
        flag = f"--grid {item!r}"
        if not sep or not name or not spec.strip():
            raise ConfigError(f"{flag}: expected name=start:stop:step or name=v1,v2,...")
        if name in grid:
            raise ConfigError(f"{flag}: {name} is given twice")
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) not in (2, 3):
                raise ConfigError(f"{flag}: expected start:stop or start:stop:step")
            start, stop = _number(parts[0], flag), _number(parts[1], flag)
            step = _number(parts[2], flag) if len(parts) == 3 else 1
            if not (step > 0) or stop < start:
                raise ConfigError(f"{flag}: need step > 0 and stop >= start")
            count = int(math.floor((stop - start) / step + 1e-9)) + 1
            values = [start + k * step for k in range(count)]
            if all(isinstance(v, int) for v in (start, stop, step)):
                values = [int(v) for v in values]
            else:
                values = [round(float(v), 10) for v in values]
        else:
            values = [parse_value(v.strip()) for v in spec.split(",") if v.strip()]
        if not values:
            raise ConfigError(f"{flag}: no values")
        grid[name] = list(dict.fromkeys(values))
    if not grid:
        raise ConfigError("give at least one --grid name=values")
    return grid


def grid_size(grid: dict[str, list[Any]]) -> int:
    return int(np.prod([len(v) for v in grid.values()], dtype=object))


def grid_trials(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination, in the order the grid flags were given."""
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*grid.values())]


def random_trials(grid: dict[str, list[Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` distinct combinations drawn uniformly (all of them when the grid is smaller)."""
    size = grid_size(grid)
    n = min(n, size)
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0x0971])
    flat = rng.choice(size, size=n, replace=False) if size < 2**62 else rng.integers(0, size, n)
    shape = [len(v) for v in grid.values()]
    out = []
    for idx in flat:
        pos = np.unravel_index(int(idx), shape)
        out.append({name: grid[name][int(p)] for name, p in zip(grid, pos)})
    return out


@dataclass
class TrialJob:
    """One run: trial id, params merged over the spec's, optional date range."""

    trial: int
    params: dict[str, Any]
    start: str | None = None
    end: str | None = None


@dataclass
class TrialContext:
    """Base data of a search, sent to each worker once."""

    spec: RunSpec
    market: Market
    objective: str


def objective_value(metrics: dict[str, Any], objective: str) -> float:
    value = metrics.get(objective)
    return float(value) if value is not None and np.isfinite(value) else float("nan")


def run_trial(ctx: TrialContext, job: TrialJob) -> tuple[dict[str, Any], pd.Series | None]:
    """Run one trial: (row with params, metrics, objective and status; daily returns or None)."""
    from autostock.sim.vectorsim import run as run_fast  # vectorised where it applies, else backtrader

    spec = ctx.spec.replace(
        params={**ctx.spec.params, **job.params},
        start=job.start or ctx.spec.start,
        end=job.end or ctx.spec.end,
    )
    row: dict[str, Any] = {"trial": job.trial, **job.params}
    try:
        result, _ = run_fast(spec, ctx.market)
    except UserError as exc:  # the strategy rejects this combination
        row.update({k: None for k in TRIAL_METRICS}, objective=float("nan"), status=f"invalid: {exc}")
        return row, None
    row.update({k: result.metrics.get(k) for k in TRIAL_METRICS})
    row["final_value"] = result.final_value
    row["objective"] = objective_value(result.metrics, ctx.objective)
    row["status"] = "ok"
    return row, result.returns.astype(float)


@dataclass
class OptimizeResult:
    """All trials, the best one, and the overfitting statistics."""

    table: pd.DataFrame
    returns: dict[int, pd.Series]
    grid: dict[str, list[Any]]
    objective: str
    method: str
    best: dict[str, Any] | None
    deflated_sharpe: dict[str, Any] | None
    pbo: dict[str, Any] | None
    settings: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def verdict(self) -> dict[str, Any]:
        """One plain verdict from DSR and PBO together (:func:`~autostock.robustness.stats.overfitting_verdict`)."""
        from autostock.robustness.stats import overfitting_verdict

        n = len(self.returns)
        return overfitting_verdict((self.deflated_sharpe or {}).get("dsr"), (self.pbo or {}).get("pbo"), n).to_dict()

    def trial_returns(self) -> pd.DataFrame:
        """The periods x trials matrix of daily returns behind DSR and PBO (missing days are 0)."""
        return trial_matrix(self.returns)

    def summary(self) -> dict[str, Any]:
        valid = self.table[self.table["status"] == "ok"] if len(self.table) else self.table
        return {
            "verdict": self.verdict,
            "n_trials_in_statistics": len(self.returns),
            "trial_returns_file": TRIAL_RETURNS_FILE,
            "settings": self.settings,
            "objective": self.objective,
            "method": self.method,
            "n_trials": int(len(self.table)),
            "n_valid_trials": int(len(valid)),
            "interrupted": self.interrupted,
            "best": self.best,
            "deflated_sharpe": self.deflated_sharpe,
            "pbo": self.pbo,
        }


def best_trial(table: pd.DataFrame, grid_names: list[str]) -> dict[str, Any] | None:
    """The valid trial with the highest objective (ties: the earliest trial)."""
    valid = table[(table["status"] == "ok") & np.isfinite(pd.to_numeric(table["objective"], errors="coerce"))]
    if valid.empty:
        return None
    row = valid.loc[pd.to_numeric(valid["objective"]).idxmax()]
    return {
        "trial": int(row["trial"]),
        "params": {k: plain_value(row[k]) for k in grid_names},
        "objective": float(row["objective"]),
        "metrics": {k: plain_value(row[k]) for k in (*TRIAL_METRICS, "final_value") if k in row},
    }


def plain_value(value: Any) -> Any:
    """A numpy scalar as a Python value; NaN and infinities as ``None`` (for JSON)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


TRIAL_RETURNS_FILE = "trial_returns.csv"


def trial_matrix(returns: dict[int, pd.Series]) -> pd.DataFrame:
    """Trials' daily returns as one periods x trials frame (column = trial id; missing days 0)."""
    if not returns:
        return pd.DataFrame()
    return pd.DataFrame({k: v for k, v in sorted(returns.items())}).dropna(how="all").fillna(0.0)


def overfitting_stats(
    returns: dict[int, pd.Series], best: int | None, n_splits: int = 16
) -> tuple[dict | None, dict | None]:
    """Deflated Sharpe of trial ``best`` against all trials, and PBO over the trials' returns."""
    from autostock.robustness.stats import (
        deflated_sharpe_from_returns,
        probability_of_backtest_overfitting,
        sharpe_per_period,
    )

    if best is None or best not in returns:
        return None, None
    frame = trial_matrix(returns)
    sharpes = np.array([sharpe_per_period(frame[c].to_numpy()) for c in frame.columns])
    dsr = deflated_sharpe_from_returns(frame[best].to_numpy(), sharpes).to_dict()
    pbo = None
    t = len(frame)
    splits = min(n_splits, (t // 4) // 2 * 2)
    if frame.shape[1] >= 2 and splits >= 2:
        pbo = probability_of_backtest_overfitting(frame.to_numpy(), splits).to_dict()
    return dsr, pbo


def evaluate_trials(executor: Executor, ctx: TrialContext, jobs: list[TrialJob], desc: str):
    """Run ``jobs`` on ``executor``: (JobResults, rows in job order, daily returns by trial id)."""
    done = executor.map(run_trial, ctx, jobs, desc=desc)
    return done, [r[0] for r in done.results], {r[0]["trial"]: r[1] for r in done.results if r[1] is not None}


def optimize(
    spec: RunSpec,
    market: Market,
    grid: dict[str, list[Any]],
    objective: str = "sharpe",
    method: str = "grid",
    trials: int | None = None,
    seed: int | None = None,
    executor: Executor | None = None,
    n_splits: int = 16,
) -> OptimizeResult:
    """Search ``grid`` for the params that maximise ``objective``.

    Parameters
    ----------
    spec, market : RunSpec, Market
        The base run and its data; every trial changes only the grid's params.
    grid : dict
        Param name -> candidate values (:func:`parse_grid`).
    objective : {"sharpe", "cagr", "calmar", "sortino"}
        Metric to maximise (from the foundation's QuantStats metrics).
    method : {"grid", "random", "optuna"}
        All combinations; ``trials`` distinct random ones; or ``trials`` Optuna TPE trials
        (asked in fixed batches of 8, so the seed alone fixes the trials).
    trials : int or None
        Number of trials for random / optuna (default 50).
    seed : int or None
        Seed of random / optuna (default ``spec.seed``).
    n_splits : int
        Row blocks for PBO's CSCV.
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVES)}")
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    if trials is not None and trials < 1:
        raise ConfigError(f"trials must be >= 1, got {trials}")
    seed = spec.seed if seed is None else seed
    own = executor is None
    executor = executor or Executor()
    from autostock.engine import market_for  # lazy: backtrader loads only when a run starts

    market = market_for(spec, market)
    ctx = TrialContext(spec, market, objective)
    try:
        if method == "optuna":
            rows, returns, interrupted = _optuna_search(executor, ctx, grid, trials or 50, seed)
        else:
            candidates = grid_trials(grid) if method == "grid" else random_trials(grid, trials or 50, seed)
            jobs = [TrialJob(i, p) for i, p in enumerate(candidates)]
            done, rows, returns = evaluate_trials(executor, ctx, jobs, f"optimize {method}")
            interrupted = done.interrupted
    finally:
        if own:
            executor.close()
    table = pd.DataFrame(rows, columns=["trial", *grid, *TRIAL_METRICS, "final_value", "objective", "status"])
    _fail_if_all_invalid(table)
    best = best_trial(table, list(grid))
    dsr, pbo = overfitting_stats(returns, best["trial"] if best else None, n_splits)
    settings = {
        "strategy": spec.strategy,
        "base_params": spec.params,
        "grid": grid,
        "seed": seed,
        "executor": executor.name,
        "data": market.label,
        "symbols": market.symbols,
        "start": spec.start,
        "end": spec.end,
        "notes": list(market.notes),
    }
    from autostock.sim.vectorsim import engine_note

    settings["engine"] = engine_note(spec, market)
    return OptimizeResult(table, returns, grid, objective, method, best, dsr, pbo, settings, interrupted)


def _fail_if_all_invalid(table: pd.DataFrame) -> None:
    if len(table) and not (table["status"] == "ok").any():
        raise ConfigError(f"every trial was rejected; first: {table['status'].iloc[0].removeprefix('invalid: ')}")


def _optuna_search(executor: Executor, ctx: TrialContext, grid: dict[str, list[Any]], n_trials: int, seed: int):
    optuna = require("ml", "optuna")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    rows: list[dict] = []
    returns: dict[int, pd.Series] = {}
    seen: dict[tuple, float] = {}
    interrupted = False
    asked = 0
    while asked < n_trials and not interrupted:
        batch = [study.ask() for _ in range(min(OPTUNA_BATCH, n_trials - asked))]
        asked += len(batch)
        params = [{name: t.suggest_categorical(name, values) for name, values in grid.items()} for t in batch]
        jobs: list[TrialJob] = []
        for _t, p in zip(batch, params):
            key = tuple(p.values())
            if key not in seen:
                seen[key] = float("nan")
                jobs.append(TrialJob(len(rows) + len(jobs), p))
        done, new_rows, new_returns = evaluate_trials(executor, ctx, jobs, f"optuna batch {asked}/{n_trials}")
        interrupted = done.interrupted
        rows.extend(new_rows)
        returns.update(new_returns)
        for r in new_rows:
            seen[tuple(r[k] for k in grid)] = r["objective"]
        for t, p in zip(batch, params):
            value = seen.get(tuple(p.values()), float("nan"))
            if np.isfinite(value):
                study.tell(t, value)
            else:
                study.tell(t, state=optuna.trial.TrialState.FAIL)
    return rows, returns, interrupted


def write_optimize(result: OptimizeResult, out: str | Path) -> dict[str, Path]:
    """Write ``optimize.csv``, ``optimize.json``, ``trial_returns.csv`` (the periods x trials
    returns matrix behind DSR and PBO, so anyone can recompute them) and, for two-parameter
    grids, ``heatmap.png``."""
    from autostock.robustness import charts

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "csv": out_dir / "optimize.csv",
        "json": out_dir / "optimize.json",
        "trial_returns": out_dir / TRIAL_RETURNS_FILE,
    }
    result.table.to_csv(files["csv"], index=False, float_format="%.10g")
    matrix = result.trial_returns()
    matrix.columns = [f"trial_{c}" for c in matrix.columns]
    matrix.index.name = "date"
    matrix.to_csv(files["trial_returns"], float_format="%.12g")
    files["json"].write_text(json.dumps(result.summary(), indent=2, default=_json_default))
    names = [n for n, v in result.grid.items() if len(v) > 1]
    valid = result.table[result.table["status"] == "ok"]
    if len(names) == 2 and len(valid):
        files["heatmap"] = charts.heatmap(
            valid.assign(objective=pd.to_numeric(valid["objective"])),
            names[0],
            names[1],
            "objective",
            out_dir / "heatmap.png",
            f"{result.objective} by {names[0]} and {names[1]}",
        )
    return files


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)
