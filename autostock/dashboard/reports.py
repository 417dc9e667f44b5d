"""Read the report folders autostock writes (plain functions, no Streamlit).

A run folder is recognised by the file its command writes: ``summary.json`` (backtest),
``montecarlo.json``, ``optimize.json``, ``walkforward.json``, ``metrics.json`` + ``params.json``
(train). Every reader returns the stored values as they are; a missing or unreadable file is
reported as a problem, never filled in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

KINDS = {
    "summary.json": "backtest",
    "montecarlo.json": "montecarlo",
    "optimize.json": "optimize",
    "walkforward.json": "walkforward",
}
HEADLINE = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "calmar", "n_trades")


@dataclass
class RunInfo:
    """One report folder: its kind, name and the facts the run list shows."""

    kind: str
    path: Path
    strategy: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    start: str | None = None
    end: str | None = None
    symbols: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def row(self, root: Path | None = None) -> dict[str, Any]:
        rel = str(self.path.relative_to(root)) if root is not None and self.path.is_relative_to(root) else self.name
        out: dict[str, Any] = {
            "run": rel,
            "kind": self.kind,
            "strategy": self.strategy,
            "params": ", ".join(f"{k}={v}" for k, v in self.params.items()),
            "symbols": ",".join(self.symbols),
            "start": self.start,
            "end": self.end,
        }
        for k in HEADLINE:
            out[k] = self.metrics.get(k)
        out["problem"] = self.problem
        return out


def _read_json(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text())
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object")  # noqa: TRY004 - a bad file, not a bad call
    return value


def _info(kind: str, folder: Path, marker: Path) -> RunInfo:
    info = RunInfo(kind=kind, path=folder)
    try:
        d = _read_json(marker)
    except (OSError, ValueError) as exc:
        info.problem = f"cannot read {marker.name}: {exc}"
        return info
    if kind == "backtest":
        info.strategy, info.params = d.get("strategy"), d.get("params") or {}
        info.start, info.end, info.symbols = d.get("start"), d.get("end"), d.get("symbols") or []
        info.metrics = d.get("metrics") or {}
    elif kind == "train":
        info.strategy = d.get("model")
        info.params = (
            (_read_json(folder / "params.json").get("model_params") or {}) if (folder / "params.json").is_file() else {}
        )
        info.symbols = sorted((d.get("symbols") or {}).keys())
        pooled = (d.get("pooled") or {}).get("model") or {}
        info.metrics = {k: pooled.get(k) for k in ("rmse", "directional_accuracy", "ic")}
    else:
        s = d.get("settings") or {}
        info.strategy = s.get("strategy")
        info.params = s.get("params") or s.get("base_params") or {}
        info.start, info.end, info.symbols = s.get("start"), s.get("end"), s.get("symbols") or []
        if kind == "montecarlo":
            info.metrics = {k: (v or {}).get("p50") for k, v in (d.get("percentiles") or {}).items()}
        elif kind == "optimize":
            info.metrics = (d.get("best") or {}).get("metrics") or {}
            info.params = (d.get("best") or {}).get("params") or {}
        elif kind == "walkforward":
            info.metrics = d.get("oos_metrics") or {}
            folds = d.get("folds") or []
            if folds and not info.start:  # the period the folds span (first in-sample .. last out-of-sample)
                info.start, info.end = folds[0].get("train_start"), folds[-1].get("test_end")
    return info


def discover_runs(root: str | Path) -> list[RunInfo]:
    """Every run folder under ``root`` (any depth), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found: dict[Path, RunInfo] = {}
    for marker in sorted(root.rglob("*.json")):
        folder = marker.parent
        if folder in found:
            continue
        kind = KINDS.get(marker.name)
        if kind is None and marker.name == "metrics.json" and (folder / "params.json").is_file():
            kind = "train"
        if kind is None:
            continue
        found[folder] = _info(kind, folder, marker)
    return sorted(found.values(), key=lambda r: (-_mtime(r.path), str(r.path)))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def runs_table(runs: list[RunInfo], root: str | Path | None = None) -> pd.DataFrame:
    """One row per run folder with strategy, params, period and headline metrics."""
    base = Path(root) if root is not None else None
    cols = ["run", "kind", "strategy", "params", "symbols", "start", "end", *HEADLINE, "problem"]
    return pd.DataFrame([r.row(base) for r in runs], columns=cols)


# -- one backtest ---------------------------------------------------------------------------------


@dataclass
class BacktestRun:
    """The files of one ``autostock backtest`` folder."""

    path: Path
    summary: dict[str, Any]
    equity: pd.DataFrame
    trades: pd.DataFrame
    orders: pd.DataFrame
    tearsheet: Path | None

    @property
    def returns(self) -> pd.Series:
        if "returns" in self.equity:
            return self.equity["returns"]
        return self.equity["value"].pct_change().fillna(0.0)

    @property
    def drawdown(self) -> pd.Series:
        v = self.equity["value"]
        return v / v.cummax() - 1.0


def _csv(path: Path, dates: list[str]) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    df = pd.read_csv(path)
    for c in dates:
        if c in df:
            df[c] = pd.to_datetime(df[c], errors="coerce")
    return df


def load_backtest(folder: str | Path) -> BacktestRun:
    """Read a backtest folder; raises ``FileNotFoundError`` naming the missing file."""
    folder = Path(folder)
    summary = _read_json(folder / "summary.json")
    eq_path = folder / "equity.csv"
    if not eq_path.is_file():
        raise FileNotFoundError(f"{eq_path} is missing")
    equity = pd.read_csv(eq_path, index_col="date", parse_dates=["date"])
    trades = _csv(folder / "trades.csv", ["entry_date", "exit_date"])
    orders = _csv(folder / "orders.csv", ["created", "executed"])
    tear = folder / "tearsheet.html"
    return BacktestRun(folder, summary, equity, trades, orders, tear if tear.is_file() else None)


def monthly_returns(returns: pd.Series) -> pd.DataFrame:
    """Compounded returns per calendar month (rows: years, columns: Jan..Dec, then the year).

    A month without any bar stays empty (NaN), never 0.
    """
    r = returns.dropna()
    if r.empty:
        return pd.DataFrame()
    r.index = pd.DatetimeIndex(r.index)
    grouped = (1.0 + r).groupby([r.index.year, r.index.month]).prod() - 1.0
    table = grouped.unstack()
    table = table.reindex(columns=range(1, 13))
    table.columns = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    table["Year"] = (1.0 + r).groupby(r.index.year).prod() - 1.0
    table.index.name = "year"
    return table


def trade_markers(orders: pd.DataFrame) -> pd.DataFrame:
    """Executed orders as chart markers: date, symbol, side, price, size."""
    if orders.empty or "executed" not in orders:
        return pd.DataFrame(columns=["date", "symbol", "side", "price", "size"])
    done = orders[orders.get("status", "Completed") == "Completed"].dropna(subset=["executed"])
    return pd.DataFrame(
        {
            "date": done["executed"],
            "symbol": done["symbol"],
            "side": done["side"],
            "price": done["exec_price"],
            "size": done["exec_size"],
        }
    ).reset_index(drop=True)


def filter_trades(
    trades: pd.DataFrame, symbols: list[str] | None = None, direction: str | None = None, outcome: str | None = None
) -> pd.DataFrame:
    """The trades of ``symbols`` (all when None), ``direction`` (long/short) and ``outcome`` (win/loss)."""
    out = trades
    if symbols:
        out = out[out["symbol"].isin(symbols)]
    if direction in ("long", "short"):
        out = out[out["direction"] == direction]
    pnl = "pnl_after_costs" if "pnl_after_costs" in out else "pnl"
    if outcome == "win":
        out = out[out[pnl] > 0]
    elif outcome == "loss":
        out = out[out[pnl] <= 0]
    return out


def compare_equity(runs: list[BacktestRun]) -> pd.DataFrame:
    """Each run's equity divided by its first value (growth of 1), one column per run, on the
    union of their dates (a run has no value outside its own dates)."""
    cols = {}
    for r in runs:
        v = r.equity["value"]
        cols[r.path.name] = v / v.iloc[0]
    return pd.DataFrame(cols)


def compare_metrics(runs: list[BacktestRun]) -> pd.DataFrame:
    """Headline metrics of each run, one column per run."""
    return pd.DataFrame(
        {
            r.path.name: {
                "strategy": r.summary.get("strategy"),
                "params": json.dumps(r.summary.get("params") or {}),
                "period": f"{r.summary.get('start')} .. {r.summary.get('end')}",
                **(r.summary.get("metrics") or {}),
            }
            for r in runs
        }
    )


# -- robustness and ML ------------------------------------------------------------------------------


def load_montecarlo(folder: str | Path) -> dict[str, Any]:
    """``montecarlo.json``, the per-path table and the fan chart image (when written)."""
    folder = Path(folder)
    out: dict[str, Any] = {"summary": _read_json(folder / "montecarlo.json")}
    out["paths"] = pd.read_csv(folder / "paths.csv") if (folder / "paths.csv").is_file() else pd.DataFrame()
    curves = folder / "curves.csv"
    out["curves"] = pd.read_csv(curves, index_col=0, parse_dates=True) if curves.is_file() else None
    for key in ("fan", "histograms"):
        png = folder / f"montecarlo_{key}.png"
        out[key + "_png"] = png if png.is_file() else None
    return out


def fan_bands(curves: pd.DataFrame, quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> pd.DataFrame:
    """Quantiles across paths at each date (one column per quantile) for a fan chart."""
    return curves.quantile(list(quantiles), axis=1).T


def load_optimize(folder: str | Path) -> dict[str, Any]:
    """``optimize.json`` (best trial, deflated Sharpe, PBO, a ``verdict`` when present) and the trial table."""
    folder = Path(folder)
    summary = _read_json(folder / "optimize.json")
    table = pd.read_csv(folder / "optimize.csv") if (folder / "optimize.csv").is_file() else pd.DataFrame()
    grid = list(((summary.get("settings") or {}).get("grid") or {}).keys())
    return {
        "summary": summary,
        "trials": table,
        "params": grid,
        "verdict": summary.get("verdict"),
        "dsr": summary.get("deflated_sharpe"),
        "pbo": summary.get("pbo"),
    }


def surface(trials: pd.DataFrame, x: str, y: str, value: str = "objective") -> pd.DataFrame:
    """``value`` over a grid of params ``x`` (columns) and ``y`` (rows); the best value where a
    cell holds several trials (other params differ), NaN where no trial ran."""
    ok = trials[trials["status"] == "ok"] if "status" in trials else trials
    return ok.pivot_table(index=y, columns=x, values=value, aggfunc="max").sort_index().sort_index(axis=1)


def load_walkforward(folder: str | Path) -> dict[str, Any]:
    """``walkforward.json``, the fold table and the stitched out-of-sample equity."""
    folder = Path(folder)
    out: dict[str, Any] = {"summary": _read_json(folder / "walkforward.json")}
    out["folds"] = _csv(folder / "walkforward.csv", ["train_start", "train_end", "test_start", "test_end"])
    eq = folder / "oos_equity.csv"
    out["equity"] = pd.read_csv(eq, index_col="date", parse_dates=["date"]) if eq.is_file() else pd.DataFrame()
    return out


def load_model(folder: str | Path) -> dict[str, Any]:
    """``metrics.json`` of ``autostock train``: the model's out-of-sample metrics beside each naive baseline."""
    folder = Path(folder)
    m = _read_json(folder / "metrics.json")
    rows = []
    for sym, block in sorted((m.get("symbols") or {}).items()):
        rows.extend(_model_rows(sym, block))
    if m.get("pooled"):
        rows.extend(_model_rows("pooled", m["pooled"]))
    return {
        "metrics": m,
        "table": pd.DataFrame(rows, columns=["symbol", "forecaster", "n", "rmse", "mae", "directional_accuracy", "ic"]),
    }


def _model_rows(sym: str, block: dict[str, Any]) -> list[dict[str, Any]]:
    out = [{"symbol": sym, "forecaster": "model", **(block.get("model") or {})}]
    for name, vals in (block.get("baselines") or {}).items():
        out.append({"symbol": sym, "forecaster": f"baseline: {name}", **(vals or {})})
    return out


def finite(x: Any) -> bool:
    """True for a real, finite number."""
    return isinstance(x, (int, float, np.floating, np.integer)) and np.isfinite(x)
