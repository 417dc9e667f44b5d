"""Write a run's outputs: summary.json, CSVs, tearsheet, charts, pyfolio folder."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from autostock import __version__
from autostock.result import RunResult


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _jsonable(value.item())
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def summary(result: RunResult) -> dict[str, Any]:
    """The machine-readable summary; deterministic for a given spec and data (no clock time, no paths)."""
    spec, market = result.spec, result.market
    eq = result.equity
    data = {
        "source": market.source,
        "synthetic": market.synthetic,
        "label": market.label,
        "notes": market.notes,
        "gaps": market.gaps,
    }
    out = {
        "autostock_version": __version__,
        "strategy": spec.strategy,
        "params": result.params,
        "symbols": list(result.market.symbols if not spec.symbols else spec.symbols),
        "start": eq.index[0].date().isoformat(),
        "end": eq.index[-1].date().isoformat(),
        "n_bars": int(len(eq)),
        "initial_cash": spec.cash,
        "final_value": result.final_value,
        "benchmark": result.benchmark_returns.name if result.benchmark_returns is not None else None,
        "sizer": {"name": spec.sizer, "params": spec.sizer_params},
        "costs": {
            "commission_pct": spec.commission,
            "commission_per_share": spec.commission_per_share,
            "commission_min": spec.commission_min,
            "slippage_pct": spec.slippage,
            "spread_bps": spec.spread_bps,
            "total_commission": float(result.orders["commission"].sum()) if len(result.orders) else 0.0,
            "total_slippage_cost": float(result.orders["slippage_cost"].sum()) if len(result.orders) else 0.0,
        },
        "seed": spec.seed,
        "data": data,
        "metrics": result.metrics,
        "orders_by_status": {k: int(v) for k, v in result.orders["status"].value_counts().sort_index().items()},
    }
    if spec.risk:
        out["risk"] = spec.risk
    from autostock.risk.report import summary_sections

    for name, analysis in result.analyses.items():
        if name not in ("risk_guard", "exposure"):  # summarised below; their rows go to CSV files
            out[name] = analysis
    out.update(summary_sections(result.analyses))
    if result.events:
        out["events"] = result.events
    return _jsonable(out)


def write_outputs(result: RunResult, out_dir: str | Path, tearsheet: bool = True) -> dict[str, Path]:
    """Write every output file of a run into ``out_dir``; return name -> path."""
    from autostock.reports.charts import equity_chart
    from autostock.reports.tearsheet import pyfolio_outputs, quantstats_html

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["summary"] = out / "summary.json"
    paths["summary"].write_text(json.dumps(summary(result), indent=2, sort_keys=False) + "\n")
    eq = result.equity.copy()
    eq.index = eq.index.strftime("%Y-%m-%d") if _daily(eq.index) else eq.index.map(pd.Timestamp.isoformat)
    eq.to_csv(out / "equity.csv", index_label="date")
    result.trades.to_csv(out / "trades.csv", index=False)
    result.orders.to_csv(out / "orders.csv", index=False)
    result.positions.to_csv(out / "positions.csv", index=False)
    paths.update({k: out / f"{k}.csv" for k in ("equity", "trades", "orders", "positions")})
    from autostock.risk.report import write_risk_files

    paths.update(write_risk_files(result.analyses, out))
    title = f"{result.spec.strategy} on {result.market.label}"
    paths["chart"] = equity_chart(result.equity, result.trades, out / "equity.png", title,
                                  result.benchmark_returns, result.events)
    if tearsheet:
        paths["tearsheet"] = quantstats_html(result.returns, result.benchmark_returns, out / "tearsheet.html", title)
    if result.pyfolio is not None:
        pyfolio_outputs(result.pyfolio, result.benchmark_returns, out / "pyfolio")
        paths["pyfolio"] = out / "pyfolio"
    return paths


def _daily(index: pd.DatetimeIndex) -> bool:
    return bool(len(index)) and bool((index == index.normalize()).all())
