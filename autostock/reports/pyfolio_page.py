"""pyfolio's returns tear sheet, computed with vectorised code and drawn with plain matplotlib.

:func:`tear_sheet_data` computes every series pyfolio's ``create_returns_tear_sheet`` plots
(same windows, same formulas, same values; ``tests/reports/test_pyfolio_fast_page.py`` checks
each one against pyfolio's own functions) and :func:`draw_returns_tear_sheet` draws them on one
Agg figure with pyfolio's panel titles and labels. :func:`perf_stats` is
``pyfolio.timeseries.perf_stats`` (the table pyfolio prints above the page): empyrical's and
scipy's definitions copied line for line in numpy (the test compares every value with them to
1e-9), because importing empyrical imports ``scipy.stats`` (~1.3 s CPU, more than the page).
None of pyfolio, empyrical, scipy, seaborn or pyplot is imported here; pyfolio's own page is
:func:`autostock.reports.tearsheet.pyfolio_native_tear_sheet`.
"""

from __future__ import annotations

import calendar
import functools
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BDAYS_PER_MONTH = 21  # pyfolio.utils.APPROX_BDAYS_PER_MONTH
BDAYS_PER_YEAR = 252  # pyfolio.utils.APPROX_BDAYS_PER_YEAR
TOP_DRAWDOWNS = 5

# pyfolio.timeseries.STAT_FUNC_NAMES, in perf_stats' order
PERF_STAT_NAMES = (
    "Annual return",
    "Cumulative returns",
    "Annual volatility",
    "Sharpe ratio",
    "Calmar ratio",
    "Stability",
    "Max drawdown",
    "Omega ratio",
    "Sortino ratio",
    "Skew",
    "Kurtosis",
    "Tail ratio",
    "Daily value at risk",
)
FACTOR_STAT_NAMES = ("Alpha", "Beta")

# panel titles, top to bottom then left to right, as pyfolio sets them
PANEL_TITLES = (
    "Cumulative returns",
    "Cumulative returns volatility matched to benchmark",
    "Cumulative returns on logarithmic scale",
    "Returns",
    "Rolling portfolio beta to {benchmark}",
    "Rolling volatility (6-month)",
    "Rolling Sharpe ratio (6-month)",
    "Top 5 drawdown periods",
    "Underwater plot",
    "Monthly returns (%)",
    "Annual returns",
    "Distribution of monthly returns",
    "Return quantiles",
)


def aggregate_returns(returns: pd.Series, convert_to: str) -> pd.Series:
    """``empyrical.aggregate_returns`` without a Python call per bar: compounded returns per
    ``weekly`` (ISO year, ISO week), ``monthly`` (year, month) or ``yearly`` (year) group.

    empyrical compounds each group with ``cum_returns(x).iloc[-1]`` (NaN counted as 0); a grouped
    product of ``1 + r`` multiplies the same numbers in the same order.
    """
    index = pd.DatetimeIndex(returns.index)
    if convert_to == "weekly":
        iso = index.isocalendar()
        keys = [iso["year"].to_numpy(dtype="int64"), iso["week"].to_numpy(dtype="int64")]
    elif convert_to == "monthly":
        keys = [index.year.to_numpy(dtype="int64"), index.month.to_numpy(dtype="int64")]
    elif convert_to == "yearly":
        keys = [index.year.to_numpy(dtype="int64")]
    else:
        raise ValueError(f"convert_to must be weekly, monthly or yearly, not {convert_to!r}")
    growth = pd.Series(1.0 + returns.fillna(0.0).to_numpy(dtype="float64"), index=returns.index)
    out = growth.groupby(keys).prod() - 1.0
    out.index.names = [None] * out.index.nlevels
    return out


def cum_returns(returns: pd.Series, starting_value: float = 1.0) -> pd.Series:
    """``empyrical.cum_returns``: ``starting_value x cumprod(1 + r)`` (NaN returns count as 0;
    ``starting_value=0`` gives ``cumprod(1 + r) - 1``)."""
    if len(returns) < 1:
        return returns.copy()
    values = returns.to_numpy(dtype="float64", copy=True)
    values[np.isnan(values)] = 0.0
    out = np.cumprod(values + 1.0)
    if starting_value == 0:
        out -= 1.0
    else:
        out *= starting_value
    return pd.Series(out, index=returns.index)


def rolling_volatility(returns: pd.Series, window: int) -> pd.Series:
    """``pyfolio.timeseries.rolling_volatility``: rolling std x sqrt(252)."""
    return returns.rolling(window).std() * np.sqrt(BDAYS_PER_YEAR)


def rolling_sharpe(returns: pd.Series, window: int) -> pd.Series:
    """``pyfolio.timeseries.rolling_sharpe``: rolling mean / rolling std x sqrt(252)."""
    roll = returns.rolling(window)
    return roll.mean() / roll.std() * np.sqrt(BDAYS_PER_YEAR)


def top_drawdowns(returns: pd.Series, top: int = 10) -> list[tuple[pd.Timestamp, pd.Timestamp, Any]]:
    """``pyfolio.timeseries.get_top_drawdowns``: (peak, valley, recovery or NaN), deepest first.

    pyfolio repeatedly takes the underwater curve's minimum, the last zero before it (peak) and
    the first zero after it (recovery), then drops the bars strictly between peak and recovery
    (or everything after the peak when not recovered). The same steps run here on a mask over
    one numpy array instead of re-slicing a Series.
    """
    if returns.empty:
        return []
    cum = cum_returns(returns, 1.0).to_numpy(dtype="float64")
    underwater = cum / np.maximum.accumulate(cum) - 1.0
    index = returns.index
    alive = np.ones(len(underwater), dtype=bool)
    positions = np.arange(len(underwater))
    found: list[tuple[pd.Timestamp, pd.Timestamp, Any]] = []
    for _ in range(top):
        live = positions[alive]
        values = underwater[live]
        valley = live[int(np.argmin(values))]
        zeros = live[values == 0]
        peak = zeros[zeros <= valley][-1]
        after = zeros[zeros >= valley]
        if len(after):
            recovery = after[0]
            alive[peak + 1 : recovery] = False
            found.append((index[peak], index[valley], index[recovery]))
        else:
            alive[peak + 1 :] = False
            found.append((index[peak], index[valley], np.nan))
        rest = underwater[alive]
        if len(rest) == 0 or np.min(rest) == 0:
            break
    return found


def drawdown_table(returns: pd.Series, top: int = 10) -> pd.DataFrame:
    """``pyfolio.timeseries.gen_drawdown_table``: the worst drawdowns with their net drawdown in
    %, peak, valley and recovery dates and duration (business days, peak to recovery)."""
    cum = cum_returns(returns, 1.0)
    rows: list[dict[str, Any]] = []
    for peak, valley, recovery in top_drawdowns(returns, top=top):
        recovered = not (isinstance(recovery, float) and np.isnan(recovery))
        duration = int(np.busday_count(peak.date(), (recovery + pd.Timedelta(days=1)).date())) if recovered else np.nan
        rows.append(
            {
                "Net drawdown in %": (cum.loc[peak] - cum.loc[valley]) / cum.loc[peak] * 100,
                "Peak date": peak.tz_localize(None).normalize() if peak.tz else peak.normalize(),
                "Valley date": valley.tz_localize(None).normalize() if valley.tz else valley.normalize(),
                "Recovery date": (
                    (recovery.tz_localize(None) if recovery.tz else recovery).normalize() if recovered else pd.NaT
                ),
                "Duration": duration,
            }
        )
    columns = ["Net drawdown in %", "Peak date", "Valley date", "Recovery date", "Duration"]
    table = pd.DataFrame(rows, columns=columns).reindex(range(top))
    for col in ("Peak date", "Valley date", "Recovery date"):
        table[col] = pd.to_datetime(table[col])
    return table


def value_at_risk(returns: pd.Series, sigma: float = 2.0) -> float:
    """pyfolio's daily value at risk: mean - 2 standard deviations (empyrical's
    ``value_at_risk`` is a percentile, a different figure)."""
    return float(returns.mean() - sigma * returns.std())


def _values(returns: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(returns, dtype="float64")


def _nanmax_equals_nanmin(values: np.ndarray) -> bool:
    finite = values[~np.isnan(values)]
    return bool(len(finite)) and bool(finite.max() == finite.min())


def annual_return(returns: pd.Series) -> float:
    """``empyrical.annual_return``: ``prod(1 + r) ** (252 / n) - 1`` (NaN returns skipped)."""
    if len(returns) < 1:
        return np.nan
    ending_value = np.nanprod(_values(returns) + 1, axis=0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return float(ending_value ** (1 / (len(returns) / BDAYS_PER_YEAR)) - 1)


def cum_returns_final(returns: pd.Series) -> float:
    """``empyrical.cum_returns_final``: ``prod(1 + r) - 1`` (NaN returns skipped)."""
    if len(returns) == 0:
        return np.nan
    return float(np.nanprod(_values(returns) + 1, axis=0) - 1)


def annual_volatility(returns: pd.Series) -> float:
    """``empyrical.annual_volatility``: NaN-skipping sample std (ddof 1) x sqrt(252)."""
    if len(returns) < 2:
        return np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.nanstd(_values(returns), ddof=1) * BDAYS_PER_YEAR ** (1.0 / 2.0))


def sharpe_ratio(returns: pd.Series) -> float:
    """``empyrical.sharpe_ratio`` (no risk-free rate): mean / std (ddof 1) x sqrt(252), NaNs
    skipped; a constant series has std 0 (so +-inf, or NaN when its mean is 0)."""
    if len(returns) < 2:
        return np.nan
    values = _values(returns)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.nanstd(values, ddof=1)
        if _nanmax_equals_nanmin(values) and np.isfinite(std):
            std = 0.0
        return float(np.divide(np.nanmean(values), std) * np.sqrt(BDAYS_PER_YEAR))


def max_drawdown(returns: pd.Series) -> float:
    """``empyrical.max_drawdown``: the lowest ``value / running max - 1`` of ``100 x cumprod(1 + r)``
    with the starting 100 in the running max (NaN returns count as 0)."""
    if len(returns) < 1:
        return np.nan
    values = _values(returns).copy()
    values[np.isnan(values)] = 0.0
    out = np.empty(len(values) + 1)
    out[0] = 100.0
    out[1:] = np.cumprod(values + 1.0) * 100.0
    peak = np.fmax.accumulate(out)
    with np.errstate(invalid="ignore", divide="ignore"):
        drawdown = (out - peak) / peak
    return float(np.nanmin(drawdown[1:]))


def calmar_ratio(returns: pd.Series) -> float:
    """``empyrical.calmar_ratio``: annual return / |max drawdown| (NaN without a drawdown)."""
    max_dd = max_drawdown(returns)
    if not max_dd < 0:
        return np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = annual_return(returns) / abs(max_dd)
    return np.nan if np.isinf(ratio) else float(ratio)


def stability_of_timeseries(returns: pd.Series) -> float:
    """``empyrical.stability_of_timeseries``: R squared of a least-squares line through the
    cumulative log returns (NaNs dropped), the r of ``scipy.stats.linregress`` from the same
    biased covariance matrix; NaN for a flat line or fewer than two points."""
    if len(returns) < 2:
        return np.nan
    values = _values(returns)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return np.nan
    y = np.log1p(values).cumsum()
    x = np.arange(len(y))
    ssxm, ssxym, _, ssym = np.cov(x, y, bias=True).flat
    if ssxm == 0.0 or ssym == 0.0:
        return np.nan if ssxym == 0 else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        r = float(ssxym / np.sqrt(ssxm * ssym))
    if r > 1.0:
        r = 1.0
    elif r < -1.0:
        r = -1.0
    return r**2


def omega_ratio(returns: pd.Series) -> float:
    """``empyrical.omega_ratio`` (threshold 0): the sum of gains over the sum of losses, each
    summed in order as Python's ``sum`` does; NaN without losses."""
    if len(returns) < 2:
        return np.nan
    values = _values(returns) - 0.0
    numer = sum(values[values > 0.0].tolist())
    denom = -1.0 * sum(values[values < 0.0].tolist())
    return float(numer / denom) if denom > 0.0 else np.nan


def sortino_ratio(returns: pd.Series) -> float:
    """``empyrical.sortino_ratio`` (required return 0): mean x 252 over the downside risk,
    ``sqrt(mean(min(r, 0) ** 2)) x sqrt(252)`` (NaNs skipped)."""
    if len(returns) < 2:
        return np.nan
    values = _values(returns)
    with np.errstate(invalid="ignore", divide="ignore"):
        average_annual_return = np.nanmean(values) * BDAYS_PER_YEAR
        downside = np.square(np.clip(values, -np.inf, 0))
        downside_risk = np.sqrt(np.nanmean(downside)) * np.sqrt(BDAYS_PER_YEAR)
        return float(np.divide(average_annual_return, downside_risk))


def _central_moments(returns: pd.Series) -> tuple[float, float, float, float] | None:
    """mean, m2, m3, m4 as ``scipy.stats`` computes them (``mean(d ** 2)``, ``mean(d ** 2 * d)``,
    ``mean((d ** 2) ** 2)`` of ``d = x - mean``); None when empty or a NaN is present (scipy's
    ``nan_policy='propagate'`` gives NaN)."""
    values = _values(returns)
    if values.size == 0 or np.isnan(values).any():
        return None
    mean = values.mean()
    dev = values - mean
    sq = dev**2
    return float(mean), float(sq.mean()), float((sq * dev).mean()), float((sq**2).mean())


def _moment_ratio(returns: pd.Series, order: int) -> float:
    """``m3 / m2 ** 1.5`` (order 3) or ``m4 / m2 ** 2`` (order 4) of the central moments; NaN
    when empty, with a NaN, or when m2 is 0 to rounding (scipy's rule)."""
    moments = _central_moments(returns)
    if moments is None:
        return np.nan
    mean, m2, m3, m4 = moments
    if m2 <= (np.finfo(np.float64).eps * mean) ** 2:
        return np.nan
    return m3 / m2**1.5 if order == 3 else m4 / m2**2.0


def skew(returns: pd.Series) -> float:
    """``scipy.stats.skew`` (biased): ``m3 / m2 ** 1.5``."""
    return _moment_ratio(returns, 3)


def kurtosis(returns: pd.Series) -> float:
    """``scipy.stats.kurtosis`` (Fisher, biased): ``m4 / m2 ** 2 - 3``."""
    return _moment_ratio(returns, 4) - 3


def tail_ratio(returns: pd.Series) -> float:
    """``empyrical.tail_ratio``: |95th percentile| / |5th percentile| (NaNs dropped)."""
    values = _values(returns)
    values = values[~np.isnan(values)]
    if len(values) < 1:
        return np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.abs(np.percentile(values, 95)) / np.abs(np.percentile(values, 5)))


def _aligned(returns: pd.Series, factor_returns: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Both series on the union of their dates (empyrical's ``pd.concat(axis=1)``)."""
    if returns.index.equals(factor_returns.index):
        return _values(returns), _values(factor_returns)
    both = pd.concat([returns.rename(0), factor_returns.rename(1)], axis=1)
    return _values(both.iloc[:, 0]), _values(both.iloc[:, 1])


def _beta(y: np.ndarray, x: np.ndarray) -> float:
    """``empyrical.beta_aligned``: ``mean(x_res * y) / mean(x_res ** 2)`` with ``x`` the factor
    where ``y`` is not NaN and ``x_res = x - mean(x)`` (NaN-skipping; variance < 1e-30: NaN)."""
    if len(y) < 1 or len(x) < 2:
        return np.nan
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        independent = np.where(np.isnan(y), np.nan, x)
        residual = independent - np.nanmean(independent)
        covariance = np.nanmean(residual * y)
        variance = np.nanmean(np.square(residual))
        if variance < 1e-30:
            return np.nan
        return float(covariance / variance)


def beta(returns: pd.Series, factor_returns: pd.Series) -> float:
    """``empyrical.beta`` (no risk-free rate)."""
    return _beta(*_aligned(returns, factor_returns))


def alpha(returns: pd.Series, factor_returns: pd.Series) -> float:
    """``empyrical.alpha`` (no risk-free rate): ``(1 + mean(r - beta x f)) ** 252 - 1``, NaNs skipped."""
    y, x = _aligned(returns, factor_returns)
    if len(y) < 2:
        return np.nan
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.power(np.nanmean(y - _beta(y, x) * x) + 1, BDAYS_PER_YEAR) - 1)


def perf_stats(returns: pd.Series, factor_returns: pd.Series | None = None) -> pd.Series:
    """``pyfolio.timeseries.perf_stats(returns, factor_returns)``: empyrical's and scipy's
    definitions under pyfolio's names, computed here with numpy (alpha and beta only with a
    benchmark); ``tests/reports/test_pyfolio_fast_page.py`` checks them against pyfolio."""
    funcs = (
        annual_return,
        cum_returns_final,
        annual_volatility,
        sharpe_ratio,
        calmar_ratio,
        stability_of_timeseries,
        max_drawdown,
        omega_ratio,
        sortino_ratio,
        skew,
        kurtosis,
        tail_ratio,
        value_at_risk,
    )
    values = [fn(returns) for fn in funcs]
    names = list(PERF_STAT_NAMES)
    if factor_returns is not None:
        values += [alpha(returns, factor_returns), beta(returns, factor_returns)]
        names += list(FACTOR_STAT_NAMES)
    return pd.Series(values, index=names, dtype="float64")


def clip_to_benchmark(returns: pd.Series, benchmark: pd.Series) -> pd.Series:
    """``pyfolio.utils.clip_returns_to_benchmark``: the returns on the benchmark's dates when they
    start before or end after it."""
    if returns.index[0] < benchmark.index[0] or returns.index[-1] > benchmark.index[-1]:
        return returns[benchmark.index]
    return returns


def tear_sheet_data(returns: pd.Series, benchmark: pd.Series | None = None) -> dict[str, Any]:
    """Every series and value the returns tear sheet plots, keyed by panel.

    ``returns`` and ``benchmark`` are daily simple returns; the benchmark is used on the
    returns' dates (as pyfolio does, after clipping the returns to the benchmark's span).
    """
    from autostock.reports.tearsheet import rolling_beta

    if benchmark is not None:
        returns = clip_to_benchmark(returns, benchmark)
    if returns.empty:
        raise ValueError("returns must contain at least one observation")
    window = BDAYS_PER_MONTH * 6
    data: dict[str, Any] = {"returns": returns, "benchmark_name": None}
    data["cum_returns"] = cum_returns(returns, 1.0)
    bench = None
    if benchmark is not None:
        bench = benchmark.loc[returns.index]
        data["benchmark_name"] = str(benchmark.name)
        data["benchmark_cum_returns"] = cum_returns(bench, 1.0)
        matched = returns / returns.std() * bench.std()
        data["vol_matched_cum_returns"] = cum_returns(matched, 1.0)
        data["rolling_beta_6m"] = rolling_beta(returns, bench, rolling_window=window)
        data["rolling_beta_12m"] = rolling_beta(returns, bench, rolling_window=BDAYS_PER_MONTH * 12)
        data["benchmark_rolling_volatility"] = rolling_volatility(bench, window)
    else:
        data["vol_matched_cum_returns"] = data["cum_returns"]  # pyfolio: no matching without a benchmark
    data["rolling_volatility"] = rolling_volatility(returns, window)
    data["rolling_sharpe"] = rolling_sharpe(returns, window)
    data["drawdowns"] = drawdown_table(returns, top=TOP_DRAWDOWNS)
    running_max = np.maximum.accumulate(data["cum_returns"])
    data["underwater"] = -100 * ((running_max - data["cum_returns"]) / running_max)
    monthly = aggregate_returns(returns, "monthly")
    data["monthly"] = monthly
    data["monthly_table"] = monthly.unstack().round(3)
    data["yearly"] = aggregate_returns(returns, "yearly")
    data["weekly"] = aggregate_returns(returns, "weekly")
    data["perf_stats"] = perf_stats(returns, bench)
    return data


def _dates(index: pd.Index) -> np.ndarray:
    """Matplotlib date numbers for a DatetimeIndex (tz dropped), converted in one vectorised call."""
    import matplotlib.dates as mdates

    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    return np.asarray(mdates.date2num(idx.to_numpy()), dtype="float64")


def _year_ticks(index: pd.Index, most: int = 12) -> tuple[np.ndarray, list[str]]:
    """1 January of every n-th year inside the index (at most ``most`` ticks); months for a
    series shorter than two years."""
    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    first, last = idx[0], idx[-1]
    if last - first < pd.Timedelta(days=730):
        marks = pd.date_range(first.normalize() + pd.offsets.MonthBegin(1), last, freq="MS")
        step = max(1, int(np.ceil(len(marks) / most)))
        marks = marks[::step]
        return _dates(marks), [m.strftime("%Y-%m") for m in marks]
    years = list(range(first.year + (first.dayofyear > 1), last.year + 1))
    step = max(1, int(np.ceil(len(years) / most)))
    marks = pd.DatetimeIndex([pd.Timestamp(year=y, month=1, day=1) for y in years[::step]])
    return _dates(marks), [str(m.year) for m in marks]


def _pct(x: float, _pos: Any = None) -> str:
    return f"{x:.0f}%"  # pyfolio.utils.percentage


def _two_dec(x: float, _pos: Any = None) -> str:
    return f"{x:.2f}"  # pyfolio.utils.two_dec_places


def _agg_figure(figsize: tuple[float, float]) -> Any:
    """A matplotlib Figure on its own Agg canvas whose renderer draws each horizontal text as one
    bitmap (pyplot, its figure manager and its import stay out)."""
    import logging
    import sys

    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
    from matplotlib.figure import Figure

    class StringRenderer(RendererAgg):
        """Agg, drawing a horizontal plain-text string as one FreeType bitmap of the whole string,
        as matplotlib's Agg backend did before 3.10 (3.10 renders and blends each glyph from
        Python, about 0.1 ms a glyph, most of this page's text cost). Text lands within a pixel of
        where matplotlib's own path puts it; rotated or math text takes matplotlib's path."""

        def draw_text(
            self, gc: Any, x: float, y: float, s: str, prop: Any, angle: float, ismath: Any = False, mtext: Any = None
        ) -> None:
            font = None if ismath or angle else self._prepare_font(prop)
            if font is None or not hasattr(font, "draw_glyphs_to_bitmap"):
                super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
                return
            font.set_text(s, 0, flags=get_hinting_flag())
            font.draw_glyphs_to_bitmap(antialiased=gc.get_antialiased())
            xo, yo = font.get_bitmap_offset()
            bottom = round(y + yo / 64.0 + font.get_descent() / 64.0)
            self._renderer.draw_text_image(font.get_image(), round(x + xo / 64.0), bottom + 1, 0, gc)

    class Canvas(FigureCanvasAgg):
        def get_renderer(self) -> Any:
            w, h = self.get_width_height(physical=True)
            key = w, h, self.figure.dpi
            if self._lastKey != key:
                self.renderer = StringRenderer(w, h, self.figure.dpi)
                self._lastKey = key  # type: ignore[assignment]
            return self.renderer

    if "matplotlib.pyplot" not in sys.modules:
        # resolve the backend now: matplotlib imports pyplot to resolve it when rcParams are
        # first read whole (boxplot does), and no window can be open without pyplot
        matplotlib.use("Agg")
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    fig = Figure(figsize=figsize)
    Canvas(fig)
    return fig


@functools.cache
def _artist_classes() -> dict[str, type]:
    """The page's two artist classes, made once (matplotlib builds docstrings for every Artist
    subclass when it is defined, a few milliseconds each)."""
    from matplotlib.artist import Artist
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox, IdentityTransform, blended_transform_factory

    class RowSpacedText(Text):
        """A column of heatmap values whose line height is one row of its axes (``rows`` rows)."""

        def __init__(self, *args: Any, rows: int, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.rows = rows

        def draw(self, renderer: Any) -> None:
            self.set_linespacing(1.0)
            line = self.get_window_extent(renderer).height / self.rows  # one line's height at spacing 1
            if line > 0 and self.axes is not None:
                self.set_linespacing(self.axes.bbox.height / self.rows / line)
            super().draw(renderer)

    class YLabelBesideTicks(Artist):
        """Drawn before the y axis (zorder 0): puts the axis label where matplotlib's
        ``YAxis._update_label_position`` would for the tick label texts ``texts``."""

        def __init__(self, ax: Any, texts: list[Any]) -> None:
            super().__init__()
            self.ax, self.texts = ax, texts
            self.set_zorder(0)

        def draw(self, renderer: Any) -> None:
            ax = self.ax
            boxes = [t.get_window_extent(renderer) for t in self.texts]
            left = Bbox.union([*boxes, ax.spines["left"].get_window_extent(renderer)]).x0
            x = left - ax.yaxis.labelpad * ax.get_figure(root=True).dpi / 72
            ax.yaxis.set_label_coords(x, 0.5, transform=blended_transform_factory(IdentityTransform(), ax.transAxes))

    return {"RowSpacedText": RowSpacedText, "YLabelBesideTicks": YLabelBesideTicks}


def _annotate_cells(ax: Any, values: np.ndarray, fontsize: float) -> None:
    """Write each cell's value (``%.1f``) at its centre, as one text per column.

    A column's values are the lines of one text whose line height is set, at draw time, to the
    height of a row: ``Text`` gives every line of a block with a fixed line spacing the same
    height and draws each line as its own string, so line k of an n-line block centred on the
    middle row lands where a one-line text centred on row k would (one text per cell cost about
    20 times more: 240 texts on a 20-year series).
    """
    rows = values.shape[0]
    cls = _artist_classes()["RowSpacedText"]
    for j in range(values.shape[1]):
        text = "\n".join(f"{v:.1f}" for v in values[:, j])
        ax._add_text(cls(j, (rows - 1) / 2, text, ha="center", va="center", fontsize=fontsize, rows=rows))


def _plain_ticks(axis: str) -> bool:
    """Whether :func:`_fixed_ticks` draws what matplotlib's ticks would under the current
    rcParams: ticks pointing out, on the bottom/left side only (as every style shipped sets)."""
    import matplotlib

    rc: Any = matplotlib.rcParams
    key = f"{axis}tick"
    far = ("top", "labeltop") if axis == "x" else ("right", "labelright")
    return rc[f"{key}.direction"] == "out" and not any(rc[f"{key}.{k}"] for k in far)


def _grid_style(alpha: float | None) -> dict[str, Any]:
    """A major grid line's style as ``Tick`` takes it from rcParams (``alpha`` overrides)."""
    import matplotlib
    from matplotlib import colors

    rc: Any = matplotlib.rcParams

    def major(name: str) -> Any:
        value = rc[f"grid.major.{name}"]
        return rc[f"grid.{name}"] if value is None else value

    color = major("color")
    if alpha is None:
        if colors.to_rgba(color)[3] < 1:
            color, alpha = colors.to_rgba(color)[:3], colors.to_rgba(color)[3]
        else:
            alpha = major("alpha")
    return {"color": color, "linestyle": major("linestyle"), "linewidth": major("linewidth"), "alpha": alpha}


def _fixed_ticks(
    ax: Any, axis: str, locs: Any, labels: list[str], fontsize: float, grid: bool, grid_alpha: float | None = None
) -> list[Any]:
    """Ticks at fixed positions on the bottom x or the left y axis, drawn as one line of tick
    marks, one line of grid lines (when ``grid``) and a text per label, with the size, pad,
    colours, visibility and grid style a matplotlib ``Tick`` takes from rcParams: the pixels of
    matplotlib's own ticks (a ``Tick`` is five artists, made and laid out per axis at each draw).
    Only where :func:`_plain_ticks` holds. Returns the label texts."""
    import matplotlib
    from matplotlib.lines import Line2D

    rc: Any = matplotlib.rcParams  # keys built from the axis name
    locs = np.asarray(locs, dtype="float64")
    n = len(locs)
    if axis == "x":
        trans, key, near = ax.get_xaxis_transform(), "xtick", "bottom"
    else:
        trans, key, near = ax.get_yaxis_transform(), "ytick", "left"
    zorder = 1.5 if rc["axes.axisbelow"] == "line" else (0.5 if rc["axes.axisbelow"] else 2.5)
    if grid and n:
        along = np.repeat(locs, 3)
        along[2::3] = np.nan
        across = np.tile([0.0, 1.0, np.nan], n)
        xy = (along, across) if axis == "x" else (across, along)
        ax.add_line(Line2D(*xy, transform=trans, zorder=zorder, **_grid_style(grid_alpha)))
    size = rc[f"{key}.major.size"]
    color = rc[f"{key}.color"]
    if rc[f"{key}.{near}"] and rc[f"{key}.major.{near}"]:
        marks = (locs, np.zeros(n)) if axis == "x" else (np.zeros(n), locs)
        ax.add_line(
            Line2D(
                *marks,
                transform=trans,
                linestyle="none",
                marker=3 if axis == "x" else 0,  # matplotlib.markers.TICKDOWN / TICKLEFT, as ticks draw
                markersize=size,
                markeredgewidth=rc[f"{key}.major.width"],
                color=color,
                markeredgecolor=color,
                clip_on=False,
                zorder=zorder,
            )
        )
    if not rc[f"{key}.label{near}"]:
        return []
    labelcolor = rc[f"{key}.labelcolor"]
    labelcolor = color if isinstance(labelcolor, str) and labelcolor == "inherit" else labelcolor
    pad = rc[f"{key}.major.pad"] + size
    label_trans, va, ha = ax.get_xaxis_text1_transform(pad) if axis == "x" else ax.get_yaxis_text1_transform(pad)
    texts = []
    for loc, label in zip(locs, labels, strict=True):
        pos = (loc, 0.0) if axis == "x" else (0.0, loc)
        text = ax.text(*pos, label, transform=label_trans, va=va, ha=ha, fontsize=fontsize, color=labelcolor)
        text.set_clip_on(False)
        texts.append(text)
    return texts


def _fixed_x_ticks(ax: Any, locs: np.ndarray, labels: list[str], fontsize: float) -> None:
    """:func:`_fixed_ticks` on the x axis with the page's grid (alpha 0.3)."""
    _fixed_ticks(ax, "x", locs, labels, fontsize, grid=True, grid_alpha=0.3)


def _freeze_y_ticks(ax: Any, fontsize: float, locs: Any = None, labels: list[str] | None = None) -> None:
    """Replace the left y axis's ticks by :func:`_fixed_ticks` at the positions and with the
    labels matplotlib would draw now (its locator and formatter over the current view, the
    ticks outside the view dropped as matplotlib drops them), and place the axis label where
    matplotlib would: ``labelpad`` left of the tick labels. Call it once everything is plotted.
    ``locs`` and ``labels`` given: those ticks (as ``set_yticks(locs, labels)`` would draw).
    The grid is drawn when the axis has it on (``ax.grid`` or the style), with its alpha. Log
    axes, labels with an offset text and styles with ticks inside or on the right keep
    matplotlib's ticks."""
    import matplotlib
    from matplotlib.ticker import NullLocator, ScalarFormatter

    yaxis = ax.yaxis
    if yaxis.get_scale() != "linear" or not _plain_ticks("y"):
        return
    low, high = sorted(ax.get_ylim())
    if locs is None or labels is None:
        locs = yaxis.get_majorticklocs()
        formatter = yaxis.get_major_formatter()
        labels = formatter.format_ticks(locs)
        if isinstance(formatter, ScalarFormatter) and formatter.get_offset():
            return
    locs = np.asarray(locs, dtype="float64")
    tol = (high - low) * 1e-10  # matplotlib.transforms._interval_contained_close
    keep = (locs >= low - tol) & (locs <= high + tol)
    rc: Any = matplotlib.rcParams
    tick_kw = yaxis._major_tick_kw  # what ``ax.grid`` / ``tick_params`` set for the axis's ticks
    grid_default = bool(rc["axes.grid"]) and rc["axes.grid.which"] in ("both", "major")
    grid = bool(tick_kw.get("gridOn", grid_default))
    kept = [lab for lab, k in zip(labels, keep, strict=True) if k]
    texts = _fixed_ticks(ax, "y", locs[keep], kept, fontsize, grid=grid, grid_alpha=tick_kw.get("grid_alpha"))
    yaxis.set_major_locator(NullLocator())
    yaxis.set_minor_locator(NullLocator())

    ax.add_artist(_artist_classes()["YLabelBesideTicks"](ax, texts))


def draw_returns_tear_sheet(data: dict[str, Any]) -> Any:
    """One Agg figure with pyfolio's returns tear sheet panels, from :func:`tear_sheet_data`."""
    import matplotlib
    from matplotlib.gridspec import GridSpec
    from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter, NullLocator

    has_bench = data["benchmark_name"] is not None
    rows = 12 if has_bench else 11
    # the heatmap and annual-bars row grows with the number of years, so each year stays legible
    ratios = [1.0] * rows
    ratios[-2] = max(1.0, len(data["monthly_table"]) / 8)
    fig = _agg_figure((11, sum(ratios) * 2.2))
    gs = GridSpec(
        rows, 3, figure=fig, height_ratios=ratios, wspace=0.45, hspace=0.6, left=0.07, right=0.98, top=0.99, bottom=0.02
    )
    x = _dates(data["returns"].index)

    date_axes: list[Any] = []

    def line_axis(row: Any, title: str, ylabel: str, share: Any = None) -> Any:
        ax = fig.add_subplot(gs[row, :], sharex=share)
        date_axes.append(ax)
        ax.tick_params(axis="y", labelsize=7)  # also sets how many ticks the y locator makes
        ax.yaxis.grid(True, alpha=0.3)
        ax.set_title(title, fontsize=9, y=1.0, pad=3)
        ax.set_ylabel(ylabel, fontsize=8)
        return ax

    # cumulative returns (linear, volatility matched, log)
    first = line_axis(slice(0, 2), PANEL_TITLES[0], "Cumulative returns")
    vol_ax = line_axis(2, PANEL_TITLES[1], "Cumulative returns", first)
    log_ax = line_axis(3, PANEL_TITLES[2], "Cumulative returns", first)
    log_ax.set_yscale("log")
    for ax, series, legend in (
        (first, data["cum_returns"], True),
        (vol_ax, data["vol_matched_cum_returns"], False),
        (log_ax, data["cum_returns"], True),
    ):
        if has_bench:
            ax.plot(x, data["benchmark_cum_returns"].to_numpy(), lw=2, color="gray", alpha=0.6)
        ax.plot(x, series.to_numpy(), lw=2, color="forestgreen", alpha=0.6)
        ax.axhline(1.0, linestyle="--", color="black", lw=1)
        ax.yaxis.set_major_formatter(FuncFormatter(_two_dec))
        if legend:
            labels = [data["benchmark_name"], "Backtest"] if has_bench else ["Backtest"]
            ax.legend(labels, loc="upper left", fontsize=7, framealpha=0.5)
    row = 4
    ret_ax = line_axis(row, PANEL_TITLES[3], "Returns", first)
    ret_ax.plot(x, data["returns"].to_numpy(), color="g", lw=0.6)
    row += 1
    if has_bench:
        ax = line_axis(row, PANEL_TITLES[4].format(benchmark=data["benchmark_name"]), "Beta", first)
        b6 = data["rolling_beta_6m"]
        ax.plot(x, b6.to_numpy(), color="steelblue", lw=2, alpha=0.6)
        ax.plot(x, data["rolling_beta_12m"].to_numpy(), color="grey", lw=2, alpha=0.4)
        ax.axhline(b6.mean(), color="steelblue", linestyle="--", lw=2)
        ax.axhline(1.0, color="black", linestyle="--", lw=1)
        ax.yaxis.set_major_formatter(FuncFormatter(_two_dec))
        ax.legend(["6-mo", "12-mo", "6-mo Average"], loc="upper left", fontsize=7, framealpha=0.5)
        row += 1
    ax = line_axis(row, PANEL_TITLES[5], "Volatility", first)
    vol = data["rolling_volatility"]
    ax.plot(x, vol.to_numpy(), alpha=0.7, lw=2, color="orangered")
    labels = ["Volatility"]
    if has_bench:
        ax.plot(x, data["benchmark_rolling_volatility"].to_numpy(), alpha=0.7, lw=2, color="grey")
        labels.append("Benchmark volatility")
    ax.axhline(vol.mean(), color="steelblue", linestyle="--", lw=2)
    ax.axhline(0.0, color="black", linestyle="--", lw=1, zorder=2)
    ax.yaxis.set_major_formatter(FuncFormatter(_two_dec))
    ax.legend([*labels, "Average volatility"], loc="upper left", fontsize=7, framealpha=0.5)
    row += 1
    ax = line_axis(row, PANEL_TITLES[6], "Sharpe ratio", first)
    sharpe = data["rolling_sharpe"]
    ax.plot(x, sharpe.to_numpy(), alpha=0.7, lw=2, color="orangered")
    ax.axhline(sharpe.mean(), color="steelblue", linestyle="--", lw=2)
    ax.axhline(0.0, color="black", linestyle="--", lw=1, zorder=2)
    ax.yaxis.set_major_formatter(FuncFormatter(_two_dec))
    ax.legend(["Sharpe", "Average"], loc="upper left", fontsize=7, framealpha=0.5)
    row += 1
    ax = line_axis(row, PANEL_TITLES[7], "Cumulative returns", first)
    ax.plot(x, data["cum_returns"].to_numpy(), lw=1.2)
    ax.yaxis.set_major_formatter(FuncFormatter(_two_dec))
    table = data["drawdowns"][["Peak date", "Recovery date"]].dropna(how="all")
    shades = matplotlib.colormaps["PuBu"](np.linspace(0.85, 0.3, max(len(table), 1)))
    last = x[-1]
    for i, (peak, recovery) in enumerate(table.itertuples(index=False)):
        end = last if pd.isnull(recovery) else _dates(pd.DatetimeIndex([recovery]))[0]
        ax.axvspan(_dates(pd.DatetimeIndex([peak]))[0], end, alpha=0.4, color=shades[i])
    ax.legend(["Portfolio"], loc="upper left", fontsize=7, framealpha=0.5)
    row += 1
    ax = line_axis(row, PANEL_TITLES[8], "Drawdown", first)
    ax.fill_between(x, data["underwater"].to_numpy(), 0, color="salmon", alpha=0.7)
    ax.yaxis.set_major_formatter(FuncFormatter(_pct))
    # fixed year ticks on every date panel (a date locator per panel costs more than the lines)
    ticks, labels = _year_ticks(data["returns"].index)
    if _plain_ticks("x"):
        first.xaxis.set_major_locator(NullLocator())  # shared by the date panels
        for ax in date_axes:
            _fixed_x_ticks(ax, ticks, labels, fontsize=7)
    else:
        first.xaxis.set_major_locator(FixedLocator(ticks.tolist()))
        first.xaxis.set_major_formatter(FixedFormatter(labels))
        for ax in date_axes:
            ax.tick_params(axis="x", labelsize=7)
            ax.xaxis.grid(True, alpha=0.3)
    first.set_xlim(x[0], x[-1])
    for ax in date_axes:
        _freeze_y_ticks(ax, fontsize=7)  # the log panel keeps matplotlib's
    row += 1

    # monthly heatmap, annual bars, monthly distribution
    heat = fig.add_subplot(gs[row, 0])
    table = data["monthly_table"].rename(columns=dict(enumerate(calendar.month_abbr)))
    values = table.fillna(0).to_numpy() * 100.0
    span = float(np.nanmax(np.abs(values))) if values.size else 1.0
    heat.imshow(values, cmap="RdYlGn", vmin=-span, vmax=span, aspect="auto", interpolation="nearest")
    if len(table) <= 25:
        _annotate_cells(heat, values, fontsize=5)
    heat.tick_params(axis="x", labelsize=6, labelrotation=90)  # before the ticks exist: made so
    heat.set_xticks(range(len(table.columns)), list(table.columns))
    _freeze_y_ticks(heat, fontsize=6, locs=range(len(table)), labels=[str(y) for y in table.index])
    heat.set_ylabel("Year", fontsize=8)
    heat.set_xlabel("Month", fontsize=8)
    heat.set_title(PANEL_TITLES[9], fontsize=9, y=1.0, pad=3)

    annual = fig.add_subplot(gs[row, 1])
    yearly = data["yearly"].sort_index(ascending=False) * 100
    annual.axvline(100 * data["yearly"].mean(), color="red", linestyle="--", lw=1, alpha=0.7)
    annual.barh(range(len(yearly)), yearly.to_numpy(), alpha=0.7, color="steelblue")
    annual.tick_params(axis="x", labelsize=7)
    _freeze_y_ticks(annual, fontsize=7, locs=range(len(yearly)), labels=[str(y) for y in yearly.index])
    annual.axvline(0.0, color="black", linestyle="-", lw=2)
    annual.xaxis.set_major_formatter(FuncFormatter(_pct))
    annual.set_ylabel("Year", fontsize=8)
    annual.set_xlabel("Returns", fontsize=8)
    annual.set_title(PANEL_TITLES[10], fontsize=9, y=1.0, pad=3)
    annual.legend(["Mean"], loc="upper right", fontsize=7, framealpha=0.5)

    dist = fig.add_subplot(gs[row, 2])
    monthly = data["monthly"] * 100
    dist.hist(monthly.to_numpy(), color="steelblue", alpha=0.8, bins=20)
    dist.axvline(monthly.mean(), color="red", linestyle="--", lw=1, alpha=1.0)
    dist.axvline(0.0, color="black", linestyle="-", lw=1, alpha=0.75)
    dist.xaxis.set_major_formatter(FuncFormatter(_pct))
    dist.tick_params(labelsize=7)
    _freeze_y_ticks(dist, fontsize=7)
    dist.legend(["Mean"], loc="upper right", fontsize=7, framealpha=0.5)
    dist.set_ylabel("Number of months", fontsize=8)
    dist.set_xlabel("Returns", fontsize=8)
    dist.set_title(PANEL_TITLES[11], fontsize=9, y=1.0, pad=3)
    row += 1

    quant = fig.add_subplot(gs[row, :])
    boxes = quant.boxplot(
        [data["returns"].to_numpy(), data["weekly"].to_numpy(), data["monthly"].to_numpy()],
        positions=[0, 1, 2],
        widths=0.8,
        patch_artist=True,
        flierprops={"marker": "d", "markersize": 3},
    )
    for patch, color in zip(boxes["boxes"], ["#4c72B0", "#55A868", "#CCB974"], strict=True):
        patch.set_facecolor(color)
    quant.set_xticks([0, 1, 2], ["Daily", "Weekly", "Monthly"], fontsize=8)
    quant.tick_params(labelsize=7)
    _freeze_y_ticks(quant, fontsize=7)
    quant.set_title(PANEL_TITLES[12], fontsize=9, y=1.0, pad=3)
    return fig


def returns_tear_sheet(
    returns: pd.Series, benchmark: pd.Series | None, path: str | Path, dpi: int = 60
) -> dict[str, Any]:
    """Draw the returns tear sheet to ``path`` (PNG); return the data it plots."""
    data = tear_sheet_data(returns, benchmark)
    # zlib level 3: half the encoding time of PIL's default 6 for a 3 % larger file, same pixels
    draw_returns_tear_sheet(data).savefig(path, dpi=dpi, pil_kwargs={"compress_level": 3})
    return data
