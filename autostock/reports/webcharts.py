"""Report charts drawn in the browser: a chart is a small JSON spec (its data and how to draw it)
embedded in the page, and `uPlot <https://github.com/leeoniya/uPlot>`_ (MIT, vendored in
``reports/assets``) draws it when the page opens, with zoom and a cursor read-out.

Writing a chart costs the JSON of its numbers, not a matplotlib figure: the default reports
(``equity.html``, ``tearsheet.html``, ``pyfolio/returns_tear_sheet.html``) import no plotting
library. Pages are self-contained (uPlot and the glue script ``autostock-charts.js`` inline)
and open offline. Plotted values are written with 6 significant digits (the screen shows
fewer); tables and CSVs keep full precision.
"""

from __future__ import annotations

import html as _html
import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

ASSETS = Path(__file__).with_name("assets")
SeriesKind = Literal["line", "bars", "area", "points", "hidden"]


@dataclass
class Series:
    """One plotted series, aligned with its chart's x values (NaN or None: no point)."""

    label: str
    values: Any
    color: str = "#348dc1"
    kind: SeriesKind = "line"
    width: float = 1.2
    dash: bool = False
    alpha: float = 0.3  # fill opacity of bars and areas
    align: int = 0  # bars: -1 left of x, 0 centred, 1 right
    bar_size: float = 0.8  # bars: fraction of the spacing between x values


@dataclass
class Chart:
    """A chart: x values (a DatetimeIndex: a time axis; strings: categories; numbers) and series.

    ``y_scale`` is ``linear``, ``log`` or ``symlog`` (asinh, linear within ``linthresh``);
    ``bands`` shade x ranges ``(start, end, colour, opacity)``; ``hlines`` draw ``(value, colour,
    dashed)`` across; ``vlines`` mark ``(x, colour, label)``; ``boxes`` (one per category) draw
    box plots from ``q1, median, q3, lo, hi`` (and an optional ``color``); charts sharing ``sync`` share the cursor."""

    title: str
    x: Any
    series: list[Series]
    height: int = 260
    y_suffix: str = ""
    y_decimals: int = 2
    y_label: str = ""
    y_size: int | None = None  # pixels for the y axis (charts stacked on one x align with the same size)
    y_scale: Literal["linear", "log", "symlog"] = "linear"
    linthresh: float = 1.0
    x_decimals: int = 2
    x_suffix: str = ""  # number x axis: after each tick value (e.g. "%")
    bands: list[tuple[Any, Any, str, float]] = field(default_factory=list)
    hlines: list[tuple[float, str, bool]] = field(default_factory=list)
    vlines: list[tuple[Any, str, str]] = field(default_factory=list)
    boxes: list[dict[str, float]] = field(default_factory=list)
    legend: bool = True
    sync: str | None = None


def numbers(values: Any) -> str:
    """A JSON array of ``values`` with 6 significant digits; NaN and infinities become null."""
    arr = np.asarray(values, dtype=float).ravel()
    out = []
    for v in arr.tolist():
        out.append(f"{v:.6g}" if math.isfinite(v) else "null")
    return "[" + ",".join(out) + "]"


def epoch_seconds(index: pd.DatetimeIndex) -> np.ndarray:
    """Seconds since 1970 of each timestamp; a tz-aware index counts from UTC (the chart shows
    its own time zone)."""
    idx = index if index.tz is None else index.tz_convert("UTC").tz_localize(None)
    return (idx.as_unit("ns").asi8 // 1_000_000_000).astype(np.int64)


def _x(chart: Chart) -> tuple[dict[str, Any], str, Any]:
    """(x axis spec, JSON of the x values, function mapping a chart x value to an axis value)."""
    x = chart.x
    if isinstance(x, pd.DatetimeIndex):
        tz = str(x.tz) if x.tz is not None else "Etc/UTC"
        secs = epoch_seconds(x)

        def to_axis(v: Any) -> int:
            ts = pd.Timestamp(v)
            if x.tz is not None:
                ts = ts.tz_localize(x.tz) if ts.tz is None else ts
            return int(epoch_seconds(pd.DatetimeIndex([ts]))[0])

        return {"kind": "time", "tz": tz}, "[" + ",".join(map(str, secs.tolist())) + "]", to_axis
    values = list(x)
    if values and all(isinstance(v, str) for v in values):
        spec = {"kind": "category", "labels": values}
        return spec, "[" + ",".join(map(str, range(len(values)))) + "]", float
    return {"kind": "number", "decimals": chart.x_decimals, "suffix": chart.x_suffix}, numbers(values), float


def spec_json(chart: Chart) -> str:
    """The chart's JSON spec (read by ``assets/autostock-charts.js``)."""
    xspec, xdata, to_axis = _x(chart)
    meta = {
        "title": chart.title,
        "height": chart.height,
        "legend": chart.legend,
        "sync": chart.sync,
        "x": xspec,
        "y": {
            "suffix": chart.y_suffix,
            "decimals": chart.y_decimals,
            "label": chart.y_label,
            "size": chart.y_size,
            "scale": chart.y_scale,
            "linthresh": chart.linthresh,
        },
        "series": [
            {
                "label": s.label,
                "color": s.color,
                "kind": s.kind,
                "width": s.width,
                "dash": s.dash,
                "alpha": s.alpha,
                "align": s.align,
                "bar_size": s.bar_size,
            }
            for s in chart.series
        ],
        "bands": [[to_axis(a), to_axis(b), c, o] for a, b, c, o in chart.bands],
        "hlines": [
            {"value": float(v), "color": c, "dash": d, "width": 1} for v, c, d in chart.hlines if np.isfinite(v)
        ],
        "vlines": [{"x": to_axis(v), "color": c, "label": label} for v, c, label in chart.vlines],
        "boxes": [{k: float(v) if k != "color" else v for k, v in b.items()} for b in chart.boxes],
    }
    n = len(chart.x)
    for s in chart.series:
        if len(s.values) != n:
            raise ValueError(f"chart {chart.title!r}: series {s.label!r} has {len(s.values)} values for {n} x values")
    data = "[" + ",".join([xdata, *(numbers(s.values) for s in chart.series)]) + "]"
    head = json.dumps(meta, allow_nan=False)
    return head[:-1] + ',"data":' + data + "}"


def chart_html(chart: Chart) -> str:
    """The chart's place in a page: an empty div and its spec (drawn when the page opens). Every
    ``<`` of the JSON is written ``\\u003c``, so no text in it can end or alter the script element."""
    spec = spec_json(chart).replace("<", "\\u003c")
    return f'<div class="as-chart"></div><script type="application/json" class="as-chart-spec">{spec}</script>'


@cache
def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


STYLE = """.as-chart{width:100%;margin:0 0 18px}.as-chart .u-title{font-size:14px;text-align:left}
.as-chart .u-legend{font-size:11px}"""


def head_html() -> str:
    """What a page needs in its ``<head>`` to draw its charts: uPlot and the glue script, inline."""
    return (
        f"<style>{_asset('uPlot.min.css')}\n{STYLE}</style>\n"
        f"<script>{_asset('uPlot.iife.min.js')}</script>\n"
        f"<script defer>{_asset('autostock-charts.js')}</script>"
    )


def page(title: str, body: str, style: str = "") -> str:
    """A standalone HTML page with charts."""
    css = "body{font:13px/1.4 -apple-system,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222}" + style
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_html.escape(title)}</title>\n'
        f"<style>{css}</style>\n{head_html()}\n</head><body>\n{body}\n</body></html>\n"
    )


# matplotlib's ColorBrewer colormaps as their anchors (matplotlib builds a 256-entry lookup table
# from them), so coloured tables need no matplotlib import; tests compare them with matplotlib's
COLORMAPS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "RdYlGn": (
        (0.6470588235294118, 0.0, 0.14901960784313725),
        (0.84313725490196079, 0.18823529411764706, 0.15294117647058825),
        (0.95686274509803926, 0.42745098039215684, 0.2627450980392157),
        (0.99215686274509807, 0.68235294117647061, 0.38039215686274508),
        (0.99607843137254903, 0.8784313725490196, 0.54509803921568623),
        (1.0, 1.0, 0.74901960784313726),
        (0.85098039215686272, 0.93725490196078431, 0.54509803921568623),
        (0.65098039215686276, 0.85098039215686272, 0.41568627450980394),
        (0.4, 0.74117647058823533, 0.38823529411764707),
        (0.10196078431372549, 0.59607843137254901, 0.31372549019607843),
        (0.0, 0.40784313725490196, 0.21568627450980393),
    ),
    "PuBu": (
        (1.0, 0.9686274509803922, 0.984313725490196),
        (0.9254901960784314, 0.9058823529411765, 0.9490196078431372),
        (0.8156862745098039, 0.8196078431372549, 0.9019607843137255),
        (0.6509803921568628, 0.7411764705882353, 0.8588235294117647),
        (0.4549019607843137, 0.6627450980392157, 0.8117647058823529),
        (0.21176470588235294, 0.5647058823529412, 0.7529411764705882),
        (0.0196078431372549, 0.4392156862745098, 0.6901960784313725),
        (0.01568627450980392, 0.35294117647058826, 0.5529411764705883),
        (0.00784313725490196, 0.2196078431372549, 0.34509803921568627),
    ),
}


@cache
def _lut(name: str) -> np.ndarray:
    colors = np.array(COLORMAPS[name])
    grid, anchors = np.linspace(0, 1, 256), np.linspace(0, 1, len(colors))
    return np.stack([np.interp(grid, anchors, colors[:, k]) for k in range(3)], axis=1)


def colormap_hex(name: str, fractions: Any) -> list[str]:
    """matplotlib's ``colormaps[name](fractions)`` as ``#rrggbb`` (NaN: white)."""
    x = np.asarray(fractions, dtype=float).ravel()
    idx = np.clip((np.nan_to_num(x, nan=0.0) * 256).astype(int), 0, 255)
    rgb = np.round(_lut(name)[idx] * 255).astype(int)
    return [
        "#ffffff" if not math.isfinite(v) else f"#{r:02x}{g:02x}{b:02x}"
        for v, (r, g, b) in zip(x.tolist(), rgb.tolist(), strict=True)
    ]


def rdylgn_hex(fractions: Any) -> list[str]:
    """matplotlib's ``colormaps['RdYlGn'](fractions)`` as ``#rrggbb`` (NaN: white)."""
    return colormap_hex("RdYlGn", fractions)


def centred_rdylgn(values: Any) -> list[list[str]]:
    """Each cell of a 2-D table of returns coloured as the libraries' heatmaps colour it: RdYlGn
    from minus to plus the largest absolute value, 0 in the middle (NaN taken as 0, as both fill
    empty months; all zero: the middle colour)."""
    filled = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    span = float(np.abs(filled).max()) if filled.size else 0.0
    fractions = 0.5 + filled / (2 * span) if span > 0 else np.full(filled.shape, 0.5)
    flat = rdylgn_hex(fractions.ravel())
    cols = filled.shape[1] if filled.ndim == 2 else 0
    return [flat[i * cols : (i + 1) * cols] for i in range(filled.shape[0])]


def box_stats(values: Any, whis: float = 1.5) -> dict[str, float]:
    """A box plot's statistics as matplotlib's ``boxplot`` draws them (``cbook.boxplot_stats``):
    quartiles by linear interpolation; whiskers at the most extreme values within ``whis`` times
    the interquartile range of the box (NaN dropped)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return {k: math.nan for k in ("q1", "median", "q3", "lo", "hi")}
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    iqr = q3 - q1
    above, below = x[x <= q3 + whis * iqr], x[x >= q1 - whis * iqr]
    hi = q3 if not len(above) or above.max() < q3 else above.max()
    lo = q1 if not len(below) or below.min() > q1 else below.min()
    return {"q1": float(q1), "median": float(med), "q3": float(q3), "lo": float(lo), "hi": float(hi)}


def histogram(samples: list[Any], bins: int = 20) -> tuple[np.ndarray, list[np.ndarray]]:
    """Bin centres and counts of each sample on ``bins`` common bins spanning them all (NaN
    dropped), so that overlaid histograms compare bar for bar."""
    clean = [np.asarray(s, dtype=float) for s in samples]
    clean = [s[np.isfinite(s)] for s in clean]
    pooled = np.concatenate(clean) if clean else np.array([])
    edges = np.histogram_bin_edges(pooled if len(pooled) else np.array([0.0]), bins=bins)
    counts = [np.histogram(s, bins=edges)[0].astype(float) for s in clean]
    return (edges[:-1] + edges[1:]) / 2, counts
