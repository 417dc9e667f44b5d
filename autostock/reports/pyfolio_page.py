"""pyfolio's returns tear sheet, computed with vectorised code and drawn with plain matplotlib.

:func:`tear_sheet_data` computes every series pyfolio's ``create_returns_tear_sheet`` plots
(same windows, same formulas, same values; ``tests/reports/test_pyfolio_fast_page.py`` checks
each one against pyfolio's own functions) and :func:`draw_returns_tear_sheet` draws them on one
Agg figure with pyfolio's panel titles and labels. :func:`perf_stats` is
``pyfolio.timeseries.perf_stats`` (the table pyfolio prints above the page) with the same
empyrical and scipy functions. Neither pyfolio nor seaborn is imported here; pyfolio's own
page is :func:`autostock.reports.tearsheet.pyfolio_native_tear_sheet`.
"""

from __future__ import annotations

import calendar
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.reports.charts import _pyplot

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
    """``empyrical.cum_returns`` (NaN returns count as 0)."""
    import empyrical

    return empyrical.cum_returns(returns, starting_value=starting_value)


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


def perf_stats(returns: pd.Series, factor_returns: pd.Series | None = None) -> pd.Series:
    """``pyfolio.timeseries.perf_stats(returns, factor_returns)``: the same empyrical and scipy
    functions under pyfolio's names (alpha and beta only with a benchmark)."""
    import empyrical as ep
    from scipy import stats

    funcs = (
        ep.annual_return,
        ep.cum_returns_final,
        ep.annual_volatility,
        ep.sharpe_ratio,
        ep.calmar_ratio,
        ep.stability_of_timeseries,
        ep.max_drawdown,
        ep.omega_ratio,
        ep.sortino_ratio,
        stats.skew,
        stats.kurtosis,
        ep.tail_ratio,
        value_at_risk,
    )
    out = pd.Series(dtype="float64")
    for name, fn in zip(PERF_STAT_NAMES, funcs, strict=True):
        out[name] = fn(returns)
    if factor_returns is not None:
        out["Alpha"] = ep.alpha(returns, factor_returns)
        out["Beta"] = ep.beta(returns, factor_returns)
    return out


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


def draw_returns_tear_sheet(data: dict[str, Any]) -> Any:
    """One Agg figure with pyfolio's returns tear sheet panels, from :func:`tear_sheet_data`."""
    from matplotlib.gridspec import GridSpec
    from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter

    plt = _pyplot()
    has_bench = data["benchmark_name"] is not None
    rows = 12 if has_bench else 11
    # the heatmap and annual-bars row grows with the number of years, so each year stays legible
    ratios = [1.0] * rows
    ratios[-2] = max(1.0, len(data["monthly_table"]) / 8)
    fig = plt.figure(figsize=(11, sum(ratios) * 2.2))
    gs = GridSpec(
        rows, 3, figure=fig, height_ratios=ratios, wspace=0.45, hspace=0.6, left=0.07, right=0.98, top=0.99, bottom=0.02
    )
    x = _dates(data["returns"].index)

    def line_axis(row: Any, title: str, ylabel: str, share: Any = None) -> Any:
        ax = fig.add_subplot(gs[row, :], sharex=share)
        ax.set_title(title, fontsize=9, y=1.0, pad=3)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
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
    shades = plt.get_cmap("PuBu")(np.linspace(0.85, 0.3, max(len(table), 1)))
    last = x[-1]
    for i, (peak, recovery) in enumerate(table.itertuples(index=False)):
        end = last if pd.isnull(recovery) else _dates(pd.DatetimeIndex([recovery]))[0]
        ax.axvspan(_dates(pd.DatetimeIndex([peak]))[0], end, alpha=0.4, color=shades[i])
    ax.legend(["Portfolio"], loc="upper left", fontsize=7, framealpha=0.5)
    row += 1
    ax = line_axis(row, PANEL_TITLES[8], "Drawdown", first)
    ax.fill_between(x, data["underwater"].to_numpy(), 0, color="salmon", alpha=0.7)
    ax.yaxis.set_major_formatter(FuncFormatter(_pct))
    # fixed year ticks, shared by every date panel (a date locator per panel costs more than the lines)
    ticks, labels = _year_ticks(data["returns"].index)
    first.xaxis.set_major_locator(FixedLocator(ticks.tolist()))
    first.xaxis.set_major_formatter(FixedFormatter(labels))
    first.set_xlim(x[0], x[-1])
    row += 1

    # monthly heatmap, annual bars, monthly distribution
    heat = fig.add_subplot(gs[row, 0])
    table = data["monthly_table"].rename(columns=dict(enumerate(calendar.month_abbr)))
    values = table.fillna(0).to_numpy() * 100.0
    span = float(np.nanmax(np.abs(values))) if values.size else 1.0
    heat.imshow(values, cmap="RdYlGn", vmin=-span, vmax=span, aspect="auto", interpolation="nearest")
    small = len(table) <= 25
    for (i, j), v in np.ndenumerate(values):
        if small:
            heat.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=5)
    heat.set_xticks(range(len(table.columns)), list(table.columns), fontsize=6, rotation=90)
    heat.set_yticks(range(len(table)), [str(y) for y in table.index], fontsize=6)
    heat.set_ylabel("Year", fontsize=8)
    heat.set_xlabel("Month", fontsize=8)
    heat.set_title(PANEL_TITLES[9], fontsize=9, y=1.0, pad=3)

    annual = fig.add_subplot(gs[row, 1])
    yearly = data["yearly"].sort_index(ascending=False) * 100
    annual.axvline(100 * data["yearly"].mean(), color="red", linestyle="--", lw=1, alpha=0.7)
    annual.barh(range(len(yearly)), yearly.to_numpy(), alpha=0.7, color="steelblue")
    annual.set_yticks(range(len(yearly)), [str(y) for y in yearly.index], fontsize=6)
    annual.axvline(0.0, color="black", linestyle="-", lw=2)
    annual.xaxis.set_major_formatter(FuncFormatter(_pct))
    annual.tick_params(labelsize=7)
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
    quant.set_title(PANEL_TITLES[12], fontsize=9, y=1.0, pad=3)
    return fig


def returns_tear_sheet(
    returns: pd.Series, benchmark: pd.Series | None, path: str | Path, dpi: int = 60
) -> dict[str, Any]:
    """Draw the returns tear sheet to ``path`` (PNG); return the data it plots."""
    plt = _pyplot()
    data = tear_sheet_data(returns, benchmark)
    fig = draw_returns_tear_sheet(data)
    try:
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)
    return data
