"""Robustness charts on matplotlib's Agg backend: Monte Carlo histograms and fan chart, the
optimisation heatmap, and the self-contained ``montecarlo.html``."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.reports.charts import _pyplot

HIST_METRICS: tuple[tuple[str, str], ...] = (
    ("cagr", "CAGR"),
    ("sharpe", "Sharpe"),
    ("max_drawdown", "Max drawdown"),
    ("final_value", "Final value"),
)


def histograms(table: pd.DataFrame, historical: dict[str, Any], path: Path, title: str = "") -> Path:
    """2x2 histograms of the path metrics with the historical run marked by a red line."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, (metric, label) in zip(axes.ravel(), HIST_METRICS):
        vals = pd.to_numeric(table.get(metric, pd.Series(dtype=float)), errors="coerce").dropna()
        if len(vals):
            lo, hi = float(vals.min()), float(vals.max())
            # paths that agree to rounding (e.g. shuffled trades summing in another order) get one bar
            bins = 1 if math.isclose(lo, hi, rel_tol=1e-9, abs_tol=1e-12) else min(50, max(5, len(vals) // 5))
            ax.hist(vals, bins=bins, color="#4c72b0", alpha=0.8)
        hist = historical.get(metric)
        if hist is not None and np.isfinite(hist):
            ax.axvline(hist, color="#c44e52", lw=2, label=f"historical {hist:.3g}")
            ax.legend(loc="upper right", fontsize=8)
        ax.set_title(label)
    fig.suptitle(title or "Monte Carlo path metrics")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def fan_chart(
    dates: pd.DatetimeIndex, curves: dict[int, np.ndarray], historical: np.ndarray, path: Path, title: str = ""
) -> Path:
    """Percentile bands (5-95, 25-75, median) of the sampled equity paths, a few paths, and the
    historical equity."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 5))
    n = len(dates)
    stack = np.array([c[:n] for c in curves.values() if len(c) >= n]) if curves else np.empty((0, n))
    if len(stack):
        p5, p25, p50, p75, p95 = np.percentile(stack, [5, 25, 50, 75, 95], axis=0)
        ax.fill_between(dates, p5, p95, color="#4c72b0", alpha=0.15, label="5-95 %")
        ax.fill_between(dates, p25, p75, color="#4c72b0", alpha=0.3, label="25-75 %")
        ax.plot(dates, p50, color="#4c72b0", lw=1.5, label="median path")
        for c in stack[:20]:
            ax.plot(dates, c, color="grey", lw=0.4, alpha=0.4)
    if len(historical) == n:
        ax.plot(dates, historical, color="#c44e52", lw=2, label="historical")
    ax.set_ylabel("portfolio value")
    ax.set_title(title or f"Equity fan chart ({len(stack)} sampled paths)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def heatmap(table: pd.DataFrame, x: str, y: str, value: str, path: Path, title: str = "") -> Path:
    """Heatmap of ``value`` over a two-parameter grid (rows ``y``, columns ``x``)."""
    plt = _pyplot()
    grid = table.pivot_table(index=y, columns=x, values=value, aggfunc="mean").sort_index().sort_index(axis=1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.5 * max(4, grid.shape[1]), 1.2 + 0.4 * max(4, grid.shape[0])))
    im = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(
        range(grid.shape[1]), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.columns], rotation=90
    )
    ax.set_yticks(range(grid.shape[0]), [f"{v:g}" if isinstance(v, float) else str(v) for v in grid.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(im, ax=ax, label=value)
    ax.set_title(title or f"{value} by {x} and {y}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(Path(path).name)}" src="data:image/png;base64,{data}">'


def montecarlo_html(summary: dict[str, Any], images: list[Path], path: Path) -> Path:
    """A self-contained HTML report: settings, percentile table, probabilities, charts."""
    rows = []
    for metric, pct in summary["percentiles"].items():
        hist = summary["historical"].get(metric)
        cells = "".join(f"<td>{pct[k]:.4g}</td>" for k in pct) if pct else "<td colspan=5>no finite values</td>"
        rank = summary["historical_percentile"].get(metric)
        rows.append(
            f"<tr><th>{html.escape(metric)}</th>{cells}<td>{'' if hist is None else f'{hist:.4g}'}</td>"
            f"<td>{'' if rank is None else f'{rank:.0f}'}</td></tr>"
        )
    settings = html.escape(json.dumps(summary["settings"], indent=2, default=str))
    ploss = summary["probability_of_loss"]
    pdd = summary["probability_drawdown_exceeds_limit"]
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>autostock Monte Carlo</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}img{{max-width:100%}}</style>
</head><body><h1>Monte Carlo: {html.escape(str(summary["settings"].get("strategy")))} ({html.escape(str(summary["settings"].get("mode")))} mode)</h1>
<p>{summary["completed_paths"]} paths{" (INTERRUPTED: partial results)" if summary["interrupted"] else ""} on {html.escape(str(summary["settings"].get("data")))}.</p>
<table><tr><th>metric</th><th>p5</th><th>p25</th><th>p50</th><th>p75</th><th>p95</th><th>historical</th><th>historical percentile</th></tr>
{"".join(rows)}</table>
<p>Probability of loss: {"n/a" if ploss is None else f"{ploss:.1%}"}.
Probability that max drawdown exceeds {summary["max_drawdown_limit"]:.0%}: {"n/a" if pdd is None else f"{pdd:.1%}"}.</p>
{"".join(_img(p) for p in images)}
<h2>Settings</h2><pre>{settings}</pre></body></html>"""
    Path(path).write_text(body)
    return path
