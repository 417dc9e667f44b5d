"""Write a run's outputs: summary.json, CSVs, tearsheet, charts, pyfolio folder."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from autostock import __version__
from autostock.errors import ConfigError
from autostock.result import RunResult

OUTPUTS = ("summary", "csv", "chart", "tearsheet", "pyfolio")
# chosen by name only, never by ``all``: the matplotlib PNGs of the equity chart (``equity.png``) and of
# the pyfolio page (``pyfolio/returns_tear_sheet.png``), pyfolio's own returns tear sheet and QuantStats'
# own HTML report (``tearsheet_native.html``): each costs a plotting library and seconds of CPU, where
# the default pages are drawn by the browser from the data (:mod:`autostock.reports.webcharts`)
# (these are the outputs drawn with matplotlib, in forked workers when there are cores to spare)
OPT_IN_OUTPUTS = ("chart_png", "pyfolio_png", "pyfolio_native", "tearsheet_native")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if isinstance(value, (pd.Series, pd.DataFrame)):  # e.g. predictions trained before the run
        span = f", {value.index[0]} .. {value.index[-1]}" if len(value) else ""
        return f"<{type(value).__name__} of {len(value)} rows{span}>"
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
        "n_bars": len(eq),
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
            "quote_impact": spec.quote_impact,
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


def parse_outputs(text: str | None) -> tuple[str, ...]:
    """``summary,csv,chart`` -> the selected outputs; ``all`` or None -> every output of
    :data:`OUTPUTS` (the opt-in ones, :data:`OPT_IN_OUTPUTS`, only when named: ``all,pyfolio_native``)."""
    if text is None or text.strip().lower() == "all":
        return OUTPUTS
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    if "all" in names:  # e.g. ``all,pyfolio_native``
        names = [*OUTPUTS, *(n for n in names if n != "all")]
    known = OUTPUTS + OPT_IN_OUTPUTS
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise ConfigError(
            f"--outputs {text!r}: unknown {', '.join(bad) or 'empty list'}; choose from {','.join(known)} or all"
        )
    return tuple(n for n in known if n in names)


def _chart_task(
    equity: pd.DataFrame, trades: pd.DataFrame, path: Path, title: str, bench: pd.Series | None, events: list
) -> Path:
    from autostock.reports.equity_page import equity_page

    return equity_page(equity, trades, path, title, bench, events)


def _chart_png_task(
    equity: pd.DataFrame, trades: pd.DataFrame, path: Path, title: str, bench: pd.Series | None, events: list
) -> Path:
    from autostock.reports.charts import equity_chart

    return equity_chart(equity, trades, path, title, bench, events)


def _tearsheet_task(returns: pd.Series, bench: pd.Series | None, path: Path, title: str) -> Path:
    from autostock.reports.qs_page import tearsheet_page

    return tearsheet_page(returns, bench, path, title)


def _tearsheet_native_task(returns: pd.Series, bench: pd.Series | None, path: Path, title: str) -> Path:
    from autostock.reports.tearsheet import quantstats_html

    return quantstats_html(returns, bench, path, title)


def _pyfolio_task(pf: dict[str, Any], bench: pd.Series | None, folder: Path) -> Path:
    from autostock.reports.tearsheet import pyfolio_outputs

    pyfolio_outputs(pf, bench, folder)
    return folder


def _pyfolio_png_task(pf: dict[str, Any], bench: pd.Series | None, folder: Path) -> Path:
    from autostock.reports.tearsheet import pyfolio_png_page

    return pyfolio_png_page(pf, bench, folder)


def _pyfolio_native_task(returns: pd.Series, bench: pd.Series | None, path: Path) -> Path:
    from autostock.reports.tearsheet import pyfolio_native_tear_sheet

    path.parent.mkdir(parents=True, exist_ok=True)
    return pyfolio_native_tear_sheet(returns, bench, path)


def _pool(tasks: int, parallel: bool | None) -> ProcessPoolExecutor | None:
    """A forked process pool for the matplotlib figures, when more than one core and more than one figure."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if parallel is False or tasks < 1 or (parallel is None and (cores < 2 or tasks < 2)):
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        return None  # a spawned worker re-imports everything: slower than drawing here
    from autostock.reports.charts import _pyplot

    _pyplot()  # imported once here, inherited by every forked worker (each would import it again)
    return ProcessPoolExecutor(max_workers=min(tasks, cores), mp_context=multiprocessing.get_context("fork"))


def write_outputs(
    result: RunResult,
    out_dir: str | Path,
    tearsheet: bool = True,
    outputs: tuple[str, ...] | None = None,
    parallel: bool | None = None,
) -> dict[str, Path]:
    """Write a run's outputs into ``out_dir``; return name -> path.

    ``outputs`` selects among :data:`OUTPUTS` and :data:`OPT_IN_OUTPUTS` (default: every one of
    :data:`OUTPUTS`; ``tearsheet=False`` drops the QuantStats reports (``tearsheet.html``, drawn by
    :mod:`autostock.reports.qs_page`, and ``tearsheet_native``); pyfolio files need the run's pyfolio analyzer).
    The default pages (``equity.html``, ``tearsheet.html``, ``pyfolio/returns_tear_sheet.html``) hold their
    charts' data, drawn by the browser, and are written here. The opt-in matplotlib outputs (``chart_png``:
    ``equity.png``; ``pyfolio_png``: ``pyfolio/returns_tear_sheet.png``; ``pyfolio_native``: pyfolio's own page,
    ``pyfolio/pyfolio_returns_tear_sheet.png``; ``tearsheet_native``: QuantStats' own page,
    ``tearsheet_native.html``) are drawn in forked worker processes while this one writes the rest, when
    the machine has more than one core (``parallel`` forces it on or off). Nothing is cached between runs.
    """
    selected = set(OUTPUTS if outputs is None else outputs)
    if not tearsheet:
        selected.discard("tearsheet")
        selected.discard("tearsheet_native")
    if result.pyfolio is None:
        selected -= {"pyfolio", "pyfolio_png", "pyfolio_native"}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = f"{result.spec.strategy} on {result.market.label}"
    jobs: list[tuple[str, Any, tuple]] = []
    charts: tuple[tuple[str, Any, str], ...] = (
        ("chart", _chart_task, "equity.html"),
        ("chart_png", _chart_png_task, "equity.png"),
    )
    for name, fn, file in charts:
        if name in selected:
            args = (result.equity, result.trades, out / file, title, result.benchmark_returns, result.events)
            jobs.append((name, fn, args))
    pages: tuple[tuple[str, Any], ...] = (("pyfolio", _pyfolio_task), ("pyfolio_png", _pyfolio_png_task))
    for name, fn in pages:
        if name in selected:
            jobs.append((name, fn, (result.pyfolio, result.benchmark_returns, out / "pyfolio")))
    if "pyfolio_native" in selected and result.pyfolio is not None:
        native = out / "pyfolio" / "pyfolio_returns_tear_sheet.png"
        jobs.append(
            ("pyfolio_native", _pyfolio_native_task, (result.pyfolio["returns"], result.benchmark_returns, native))
        )
    if "tearsheet" in selected:
        jobs.append(
            ("tearsheet", _tearsheet_task, (result.returns, result.benchmark_returns, out / "tearsheet.html", title))
        )
    if "tearsheet_native" in selected:
        native_html = out / "tearsheet_native.html"
        jobs.append(
            ("tearsheet_native", _tearsheet_native_task, (result.returns, result.benchmark_returns, native_html, title))
        )
    plotted = [job for job in jobs if job[0] in OPT_IN_OUTPUTS]
    pool = _pool(len(plotted), parallel)
    futures: dict[str, Future] = {}
    paths: dict[str, Path] = {}
    try:
        if pool is not None:
            futures = {name: pool.submit(fn, *args) for name, fn, args in plotted}
        if "summary" in selected:
            paths["summary"] = out / "summary.json"
            paths["summary"].write_text(json.dumps(summary(result), indent=2, sort_keys=False) + "\n")
        if "csv" in selected:
            eq = result.equity.copy()
            eq.index = eq.index.strftime("%Y-%m-%d") if _daily(eq.index) else eq.index.map(pd.Timestamp.isoformat)
            eq.to_csv(out / "equity.csv", index_label="date")
            result.trades.to_csv(out / "trades.csv", index=False)
            result.orders.to_csv(out / "orders.csv", index=False)
            result.positions.to_csv(out / "positions.csv", index=False)
            paths.update({k: out / f"{k}.csv" for k in ("equity", "trades", "orders", "positions")})
            from autostock.risk.report import write_risk_files

            paths.update(write_risk_files(result.analyses, out))
        for name, fn, args in jobs:
            paths[name] = futures[name].result() if name in futures else fn(*args)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return paths


def _daily(index: pd.DatetimeIndex) -> bool:
    return bool(len(index)) and bool((index == index.normalize()).all())
