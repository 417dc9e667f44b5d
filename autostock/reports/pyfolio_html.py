"""``pyfolio/returns_tear_sheet.html``: the panels of pyfolio's returns tear sheet
(``create_returns_tear_sheet``, as :func:`autostock.reports.pyfolio_page.draw_returns_tear_sheet`
draws them, from the same :func:`~autostock.reports.pyfolio_page.tear_sheet_data`) drawn in the
browser by :mod:`autostock.reports.webcharts`, with pyfolio's performance-statistics and
worst-drawdowns tables above them, as pyfolio prints them above its figure.

The monthly-returns heatmap is a table coloured as matplotlib colours it (RdYlGn, from minus
to plus the largest absolute month); annual returns are vertical bars (pyfolio's are
horizontal); the return quantiles are box plots with matplotlib's statistics (outliers are
not drawn; the y range reaches the whiskers). No matplotlib is imported. The pixel-faithful
PNG is :func:`autostock.reports.tearsheet.pyfolio_png_page` (opt-in).
"""

from __future__ import annotations

import calendar
import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.reports.pyfolio_page import BDAYS_PER_MONTH, PANEL_TITLES
from autostock.reports.webcharts import (
    Chart,
    Series,
    box_stats,
    centred_rdylgn,
    chart_html,
    colormap_hex,
    histogram,
    page,
)

SYNC = "pyfolio"
Y_SIZE = 70  # the date panels' y axes share one width, so their x axes line up
# pyfolio.plotting.STAT_FUNCS_PCT: shown as percentages in pyfolio's table
PCT_STATS = ("Annual return", "Cumulative returns", "Annual volatility", "Max drawdown", "Daily value at risk")
QUANTILE_COLORS = ("#4c72b0", "#55a868", "#ccb974")  # the PNG's (seaborn's deep palette)


def pubu_hex(fractions: Any) -> list[str]:
    """matplotlib's ``colormaps['PuBu'](fractions)`` as ``#rrggbb``."""
    return colormap_hex("PuBu", fractions)


def drawdown_shades(n: int) -> list[str]:
    """The shade of each of ``n`` drawdown periods, deepest first (the PNG's
    ``PuBu(linspace(0.85, 0.3, n))``)."""
    return pubu_hex(np.linspace(0.85, 0.3, max(n, 1)))[:n]


def text_color(background: str) -> str:
    """Black or white text, whichever reads on ``background`` (``#rrggbb``): white where its
    relative luminance is below 0.408, as seaborn's heatmap annotations choose."""
    rgb = np.array([int(background[k : k + 2], 16) for k in (1, 3, 5)]) / 255.0
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return "#ffffff" if float(linear @ [0.2126, 0.7152, 0.0722]) < 0.408 else "#000000"


def _fmt(value: Any, spec: str = "{:.2f}") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):
        return "-"
    return spec.format(value)


def perf_stats_html(data: dict[str, Any]) -> str:
    """pyfolio's ``show_perf_stats`` table: start and end dates, total months, then each
    statistic (percentages with one decimal, the rest with two), full precision in ``data-value``."""
    returns = data["returns"]
    idx = pd.DatetimeIndex(returns.index)
    rows: list[tuple[str, str, float | None]] = [
        ("Start date", idx[0].strftime("%Y-%m-%d"), None),
        ("End date", idx[-1].strftime("%Y-%m-%d"), None),
        ("Total months", str(int(len(returns) / BDAYS_PER_MONTH)), None),
    ]
    for name, value in data["perf_stats"].items():
        shown = _fmt(value * 100, "{:.1f}%") if name in PCT_STATS else _fmt(value)
        rows.append((str(name), shown, float(value)))
    body = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + (f'<td data-value="{value!r}">' if value is not None else "<td>")
        + f"{html.escape(shown)}</td></tr>"
        for name, shown, value in rows
    )
    return f'<table class="pf-table" id="perf-stats"><thead><tr><th></th><th>Backtest</th></tr></thead><tbody>{body}</tbody></table>'


def drawdowns_html(data: dict[str, Any]) -> str:
    """pyfolio's ``show_worst_drawdown_periods`` table (the rows ``drawdowns.csv`` holds)."""
    table = data["drawdowns"].dropna(how="all")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["", *table.columns])
    rows = []
    for rank, row in table.iterrows():
        cells = [f'<td data-value="{float(row["Net drawdown in %"])!r}">{_fmt(row["Net drawdown in %"])}</td>']
        for col in ("Peak date", "Valley date", "Recovery date"):
            date = row[col]
            cells.append(f"<td>{'-' if pd.isna(date) else pd.Timestamp(date).strftime('%Y-%m-%d')}</td>")
        duration = row["Duration"]
        cells.append(f"<td>{'-' if pd.isna(duration) else int(duration)}</td>")
        rows.append(f"<tr><th>{rank}</th>{''.join(cells)}</tr>")
    return (
        f'<table class="pf-table" id="drawdowns"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def monthly_heatmap_html(data: dict[str, Any]) -> str:
    """``Monthly returns (%)``: a year-by-month table of the monthly returns in % (one decimal,
    full precision in ``data-value``), coloured as the PNG's heatmap; empty months are blank."""
    table = data["monthly_table"]
    values = table.to_numpy(dtype=float) * 100.0
    colors = centred_rdylgn(values)  # the PNG: imshow(cmap="RdYlGn", vmin=-span, vmax=span)
    head = "".join(f"<th>{calendar.month_abbr[int(m)]}</th>" for m in table.columns)
    rows = []
    for year, vals, cols in zip(table.index, values, colors, strict=True):
        cells = "".join(
            "<td></td>"
            if not math.isfinite(v)
            else f'<td style="background:{c};color:{text_color(c)}" data-value="{v!r}">{v:.1f}</td>'
            for v, c in zip(vals.tolist(), cols, strict=True)
        )
        rows.append(f"<tr><th>{year}</th>{cells}</tr>")
    return (
        f'<div class="pf-panel"><div class="pf-title">{html.escape(PANEL_TITLES[9])}</div>'
        f'<table class="pf-heat" id="monthly-returns"><thead><tr><th>Year</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _date_chart(title: str, x: pd.DatetimeIndex, series: list[Series], **kw: Any) -> Chart:
    kw.setdefault("y_decimals", 2)
    return Chart(title, x, series, height=kw.pop("height", 220), y_size=Y_SIZE, sync=SYNC, **kw)


def _flat(value: float, n: int) -> np.ndarray:
    return np.full(n, value)


def returns_tear_sheet_charts(data: dict[str, Any]) -> list[Chart]:
    """The tear sheet's charts, top to bottom (the heatmap is a table, :func:`monthly_heatmap_html`)."""
    x = pd.DatetimeIndex(data["returns"].index)
    n = len(x)
    name = data["benchmark_name"]
    has_bench = name is not None
    green, grey, steel, orange = "#228b22", "#808080", "#4682b4", "#ff4500"
    one = [(1.0, "#000000", True)]

    def cum(title: str, values: pd.Series, **kw: Any) -> Chart:
        series = [Series(str(name), data["benchmark_cum_returns"].to_numpy(), color=grey, width=2)] if has_bench else []
        series.append(Series("Backtest", values.to_numpy(), color=green, width=2))
        return _date_chart(title, x, series, hlines=one, y_label="Cumulative returns", **kw)

    charts = [
        cum(PANEL_TITLES[0], data["cum_returns"], height=340),
        cum(PANEL_TITLES[1], data["vol_matched_cum_returns"]),
        cum(PANEL_TITLES[2], data["cum_returns"], y_scale="log"),
        _date_chart(
            PANEL_TITLES[3],
            x,
            [Series("Returns", data["returns"].to_numpy() * 100, color="#008000", width=0.8)],
            y_label="Returns",
            y_suffix="%",
            legend=False,
        ),
    ]
    if has_bench:
        b6 = data["rolling_beta_6m"]
        charts.append(
            _date_chart(
                PANEL_TITLES[4].format(benchmark=name),
                x,
                [
                    Series("6-mo", b6.to_numpy(), color=steel, width=2),
                    Series("12-mo", data["rolling_beta_12m"].to_numpy(), color=grey, width=2),
                    Series("6-mo Average", _flat(b6.mean(), n), color=steel, width=2, dash=True),
                ],
                hlines=one,
                y_label="Beta",
            )
        )
    vol = data["rolling_volatility"]
    vol_series = [Series("Volatility", vol.to_numpy(), color=orange, width=2)]
    if has_bench:
        vol_series.append(
            Series("Benchmark volatility", data["benchmark_rolling_volatility"].to_numpy(), color=grey, width=2)
        )
    vol_series.append(Series("Average volatility", _flat(vol.mean(), n), color=steel, width=2, dash=True))
    sharpe = data["rolling_sharpe"]
    zero = [(0.0, "#000000", True)]
    table = data["drawdowns"][["Peak date", "Recovery date"]].dropna(how="all")
    shades = drawdown_shades(len(table))
    bands = [
        (peak, x[-1] if pd.isnull(recovery) else recovery, shades[i], 0.4)
        for i, (peak, recovery) in enumerate(table.itertuples(index=False))
    ]
    charts += [
        _date_chart(PANEL_TITLES[5], x, vol_series, hlines=zero, y_label="Volatility"),
        _date_chart(
            PANEL_TITLES[6],
            x,
            [
                Series("Sharpe", sharpe.to_numpy(), color=orange, width=2),
                Series("Average", _flat(sharpe.mean(), n), color=steel, width=2, dash=True),
            ],
            hlines=zero,
            y_label="Sharpe ratio",
        ),
        _date_chart(
            PANEL_TITLES[7],
            x,
            [Series("Portfolio", data["cum_returns"].to_numpy(), color="#1f77b4", width=1.5)],
            bands=bands,
            y_label="Cumulative returns",
        ),
        _date_chart(
            PANEL_TITLES[8],
            x,
            [Series("Drawdown", data["underwater"].to_numpy(), color="#fa8072", kind="area", alpha=0.7)],
            y_label="Drawdown",
            y_suffix="%",
            y_decimals=0,
            legend=False,
        ),
    ]

    yearly = data["yearly"] * 100
    years = [str(y) for y in yearly.index]
    charts.append(
        Chart(
            PANEL_TITLES[10],
            years,
            [
                Series("Returns", yearly.to_numpy(), color=steel, kind="bars", alpha=0.7),
                Series("Mean", _flat(yearly.mean(), len(years)), color="#ff0000", dash=True),
            ],
            hlines=[(0.0, "#000000", False)],
            y_suffix="%",
            y_decimals=0,
            y_label="Returns",
            height=300,
        )
    )
    monthly = data["monthly"].to_numpy(dtype=float) * 100
    centres, (counts,) = histogram([monthly], bins=20)
    if len(centres) > 1:  # an empty bin's width each side, so the outer bars are drawn whole
        step = centres[1] - centres[0]
        centres, counts = np.r_[centres[0] - step, centres, centres[-1] + step], np.r_[np.nan, counts, np.nan]
    mean = float(np.nanmean(monthly)) if len(monthly) else math.nan
    charts.append(
        Chart(
            PANEL_TITLES[11],
            centres,
            [Series("Number of months", counts, color=steel, kind="bars", alpha=0.8, bar_size=1.0)],
            vlines=[(mean, "#ff0000", "Mean")] if math.isfinite(mean) else [],
            hlines=[],
            y_decimals=0,
            y_label="Number of months",
            x_decimals=1,
            height=300,
        )
    )
    samples = [data["returns"], data["weekly"], data["monthly"]]
    boxes = [{k: v * 100 for k, v in box_stats(s.to_numpy()).items()} for s in samples]
    for box, color in zip(boxes, QUANTILE_COLORS, strict=True):
        box["color"] = color  # type: ignore[assignment]
    charts.append(
        Chart(
            PANEL_TITLES[12],
            ["Daily", "Weekly", "Monthly"],
            [
                Series("lower whisker", [b["lo"] for b in boxes], kind="hidden"),
                Series("upper whisker", [b["hi"] for b in boxes], kind="hidden"),
            ],
            boxes=boxes,
            hlines=[(0.0, "#000000", True)],
            y_suffix="%",
            y_decimals=1,
            y_label="Returns",
            height=300,
        )
    )
    return charts


STYLE = """h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 6px}.pf-note{color:#666;margin:0 0 14px}
.pf-tables{display:flex;gap:32px;flex-wrap:wrap;align-items:flex-start;margin-bottom:18px}
.pf-table{border-collapse:collapse;font-size:12px}.pf-table th,.pf-table td{padding:3px 10px;border-bottom:1px solid #e4e4e4}
.pf-table th{text-align:left;font-weight:600}.pf-table td{text-align:right;font-variant-numeric:tabular-nums}
.pf-table thead th{border-bottom:2px solid #999}
.pf-title{font-size:14px;font-weight:600;margin:0 0 6px}.pf-panel{margin:0 0 18px}
.pf-heat{border-collapse:collapse;font-size:11px;width:100%;table-layout:fixed}
.pf-heat th{font-weight:600;padding:2px}.pf-heat tbody th{text-align:right;padding-right:8px}
.pf-heat td{text-align:center;padding:3px 0;border:1px solid #fff;font-variant-numeric:tabular-nums}
.pf-row{display:grid;grid-template-columns:1fr 1fr;gap:24px}.pf-row>div{min-width:0}"""


def returns_tear_sheet_html(data: dict[str, Any], title: str = "Returns tear sheet") -> str:
    """The page: the two tables, then the charts (the heatmap table between the date panels and
    the annual-returns and distribution charts)."""
    charts = [chart_html(c) for c in returns_tear_sheet_charts(data)]
    bench = data["benchmark_name"]
    note = f"against {html.escape(str(bench))}" if bench is not None else "no benchmark"
    body = (
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="pf-note">pyfolio\'s returns tear sheet ({note}); drag on a chart to zoom, double-click to reset.</p>\n'
        f'<div class="pf-tables"><div><h2>Performance statistics</h2>{perf_stats_html(data)}</div>'
        f"<div><h2>Worst drawdown periods</h2>{drawdowns_html(data)}</div></div>\n"
        + "\n".join(charts[:-3])
        + "\n"
        + monthly_heatmap_html(data)
        + f'\n<div class="pf-row"><div>{charts[-3]}</div><div>{charts[-2]}</div></div>\n'
        + charts[-1]
    )
    return page(title, body, style=STYLE)


def returns_tear_sheet_page(data: dict[str, Any], path: str | Path, title: str = "Returns tear sheet") -> Path:
    """Write the page (self-contained; opens offline) from :func:`tear_sheet_data`'s ``data``."""
    path = Path(path)
    path.write_text(returns_tear_sheet_html(data, title), encoding="utf-8")
    return path
