"""``equity.html``: the equity curve against the benchmark (rescaled to the same start), trade
entries and exits, event lines (e.g. a kill switch) and the drawdown underneath, drawn in the
browser by :mod:`autostock.reports.webcharts`. The matplotlib PNG of the same chart is the
opt-in output ``chart_png`` (:func:`autostock.reports.charts.equity_chart`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.reports.webcharts import Chart, Series, chart_html, page


def trade_markers(value: pd.Series, trades: pd.DataFrame, column: str) -> np.ndarray:
    """The equity value on each bar where a trade's ``column`` date falls (the first bar at or
    after it), NaN elsewhere: the markers of the chart."""
    out = np.full(len(value), np.nan)
    if len(trades) and column in trades:
        dates = pd.DatetimeIndex(pd.to_datetime(trades[column]))
        if value.index.tz is not None and dates.tz is None:
            dates = dates.tz_localize(value.index.tz)
        pos = value.index.searchsorted(dates).clip(0, len(value) - 1)
        out[pos] = value.to_numpy()[pos]
    return out


def equity_charts(
    equity: pd.DataFrame,
    trades: pd.DataFrame,
    title: str,
    benchmark_returns: pd.Series | None = None,
    events: list[dict[str, Any]] | None = None,
) -> list[Chart]:
    """The two charts of the page: equity (with benchmark and trade markers) and drawdown."""
    value = equity["value"].astype(float)
    series = [Series("strategy", value.to_numpy(), color="#1f5fa8", width=1.5)]
    if benchmark_returns is not None and len(benchmark_returns):
        growth = (1 + benchmark_returns.reindex(value.index).fillna(0)).cumprod()
        series.append(
            Series(f"benchmark ({benchmark_returns.name})", value.iloc[0] * growth.to_numpy(), color="#999999")
        )
    if len(trades):
        series.append(Series("entry", trade_markers(value, trades, "entry_date"), color="#2a9d4b", kind="points"))
        series.append(Series("exit", trade_markers(value, trades, "exit_date"), color="#c0392b", kind="points"))
    vlines = [(pd.Timestamp(ev["date"]), "#d35400", str(ev.get("label", "event"))) for ev in events or []]
    drawdown = value / value.cummax() - 1
    return [
        Chart(
            title,
            value.index,
            series,
            height=420,
            y_decimals=0,
            y_label="portfolio value",
            y_size=90,
            vlines=vlines,
            sync="equity",
        ),
        Chart(
            "drawdown",
            value.index,
            [Series("drawdown", drawdown.to_numpy() * 100, color="#c0392b", kind="area", alpha=0.4)],
            height=180,
            y_suffix="%",
            y_decimals=1,
            y_label="drawdown",
            y_size=90,
            legend=False,
            sync="equity",
        ),
    ]


def equity_page(
    equity: pd.DataFrame,
    trades: pd.DataFrame,
    path: str | Path,
    title: str,
    benchmark_returns: pd.Series | None = None,
    events: list[dict[str, Any]] | None = None,
) -> Path:
    """Write ``equity.html`` (self-contained; opens offline)."""
    charts = equity_charts(equity, trades, title, benchmark_returns, events)
    body = "\n".join(chart_html(c) for c in charts)
    path = Path(path)
    path.write_text(page(title, body), encoding="utf-8")
    return path
