"""The figures of QuantStats' full HTML report (``qs.reports.html``), computed with vectorised
numpy/pandas following QuantStats 0.0.86's definitions, without importing quantstats or scipy.

Conventions are QuantStats' (as ``reports.html`` calls its functions: risk-free rate 0, compounded,
``periods_per_year`` bars a year, no date matching): the metrics are computed on the frame
``{returns, benchmark}`` with missing values as 0, and where QuantStats calls a function on that
frame its frame branch is followed (e.g. the profit factor of a series without losses is 0, not
inf; Smart Sharpe/Sortino use the strategy's autocorrelation penalty for both columns).
:mod:`autostock.reports.qs_page` draws the page.
"""

from __future__ import annotations

import math
import warnings
from datetime import datetime
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta

_NORM = NormalDist()
_ALPHA = 1 - 0.95  # QuantStats' (c)VaR confidence 0.95


def prepare(returns: pd.Series, benchmark: pd.Series | None) -> tuple[pd.Series, pd.Series | None, pd.Series | None]:
    """Returns and benchmark as ``reports.html`` prepares them: tz-naive (UTC), infinities as NaN,
    the benchmark on the returns' dates (QuantStats' back-filled price reindex when the dates
    differ). Also the benchmark as given (tz-naive), which the EOY table uses."""
    r = _naive(returns.astype("float64")).replace([np.inf, -np.inf], np.nan)
    if benchmark is None:
        return r, None, None
    original = _naive(benchmark.astype("float64"))
    b = original
    if set(r.index) != set(b.index):
        prices = 1.0 + ((1.0 + b.fillna(0).replace([np.inf, -np.inf], np.nan)).cumprod() - 1.0)
        days = pd.date_range(start=r.index[0], end=r.index[-1], freq="D")
        b = prices.reindex(days, method="bfill").reindex(r.index).pct_change(fill_method=None).fillna(0)
        b = b[b.index.isin(r.index)]
    b = b.dropna().replace([np.inf, -np.inf], np.nan)
    return r, b, original


def _naive(s: pd.Series) -> pd.Series:
    s = s.copy()
    if getattr(s.index, "tz", None) is not None:
        s.index = s.index.tz_convert("UTC").tz_localize(None)
    return s


def comp(x: Any) -> Any:
    return x.add(1).prod(axis=0) - 1


def grouped(x: Any, period: str, compounded: bool = True) -> Any:
    """``utils.aggregate_returns``: ``ME`` (year, month), ``QE`` (year, quarter), ``YE`` (year)."""
    idx = x.index
    keys = {"ME": [idx.year, idx.month], "QE": [idx.year, idx.quarter], "YE": [idx.year]}[period]
    if not compounded:
        return x.groupby(keys).sum()
    out = x.add(1).groupby(keys).prod() - 1
    if period == "YE":
        out.index = out.index.get_level_values(0) if isinstance(out.index, pd.MultiIndex) else out.index
    return out


def cagr(x: pd.DataFrame, periods: int) -> pd.Series:
    years = x.count() / periods
    wealth = np.asarray(comp(x) + 1.0, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = np.where(wealth < 0, np.nan, np.abs(wealth) ** (1.0 / np.asarray(years, dtype=float)) - 1)
    return pd.Series(res, index=x.columns)


def exposure(x: pd.DataFrame) -> pd.Series:
    values = x.to_numpy()
    observed = (~np.isnan(values)).sum(axis=0)
    active = (~np.isnan(values) & (values != 0)).sum(axis=0)
    return pd.Series(
        [math.ceil(a / o * 100) / 100 if o else 0.0 for a, o in zip(active, observed, strict=True)], index=x.columns
    )


def win_rate(x: pd.DataFrame) -> pd.Series:
    nonzero = (x.notna() & (x != 0)).sum()
    return ((x > 0).sum() / nonzero).where(nonzero > 0, 0.0)


def autocorr_penalty(r: pd.Series) -> float:
    r = r.dropna()
    num = len(r)
    if num < 2:
        return 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        coef = np.abs(np.corrcoef(r[:-1], r[1:])[0, 1])
    if np.isnan(coef):
        return 1.0
    k = np.arange(1, num)
    return float(np.sqrt(1 + 2 * np.sum((num - k) / num * coef**k)))


def sortino(x: pd.DataFrame, periods: int, penalty: float = 1.0) -> pd.Series:
    downside = np.sqrt((x[x < 0] ** 2).sum() / x.count()) * penalty
    return x.mean() / downside.replace(0, np.nan) * np.sqrt(periods)


def to_drawdown(x: pd.DataFrame) -> pd.DataFrame:
    """``stats.to_drawdown_series`` of returns: prices from 1 against a phantom start at 1."""
    prices = 1.0 + (x.fillna(0).add(1).cumprod() - 1.0)
    prices = prices.replace([np.inf, -np.inf], np.nan).ffill().bfill()
    peak = np.maximum(np.maximum.accumulate(prices.to_numpy(), axis=0), 1.0)
    dd = prices / peak - 1.0
    return dd.replace([np.inf, -np.inf], 0)


def drawdown_details(dd: pd.Series) -> pd.DataFrame:
    """``stats.drawdown_details``: start, valley, end, days and max drawdown (%) of each period."""
    cols = ["start", "valley", "end", "days", "max drawdown"]
    v = dd.to_numpy()
    n = len(v)
    under = v != 0
    prev_flat = np.r_[False, ~under[:-1]]
    start_pos = np.flatnonzero(under & prev_flat)
    # QuantStats' "end" is the last bar under water before a recovery bar
    end_pos = np.flatnonzero(under[:-1] & ~under[1:]) if n > 1 else np.array([], dtype=int)
    if not len(start_pos):
        return pd.DataFrame(columns=cols)
    starts, ends = [int(i) for i in start_pos], [int(i) for i in end_pos]
    if ends and starts[0] > ends[0]:
        starts.insert(0, 0)
    if not ends or starts[-1] > ends[-1]:
        ends.append(n - 1)
    starts_a, ends_a = np.array(starts), np.array(ends)
    idx = dd.index
    mins, valleys = [], []
    for s, e in zip(starts_a, ends_a, strict=True):  # a few hundred periods at most
        w = v[s : e + 1]
        k = int(np.argmin(w))
        mins.append(w[k])
        valleys.append(idx[s + k])
    out = pd.DataFrame(
        {
            "start": idx[starts_a].strftime("%Y-%m-%d"),
            "valley": pd.DatetimeIndex(valleys).strftime("%Y-%m-%d"),
            "end": idx[ends_a].strftime("%Y-%m-%d"),
            "days": ((idx[ends_a] - idx[starts_a]).days + 1).astype(int),
            "max drawdown": np.asarray(mins, dtype=float) * 100,
        }
    )
    return out


def _resample_sum(x: pd.DataFrame, freq: str) -> pd.DataFrame:
    return x.resample(freq).sum()


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return num / den.replace(0, np.nan)


def metric_rows(
    returns: pd.Series, benchmark: pd.Series | None, periods: int
) -> tuple[list[tuple[str, list[Any]]], pd.DataFrame]:
    """The rows of ``qs.reports.metrics(mode='full', sep=True, internal=True)`` as raw values
    (percent rows times 100, as QuantStats computes them before formatting), in its order, and the
    frame they are computed on. Separator rows have the label ``~``."""
    df = pd.DataFrame({"returns": returns})
    if benchmark is not None:
        df["benchmark"] = benchmark
    start = df.index.strftime("%Y-%m-%d")
    df = df.fillna(0)
    cols = list(df.columns)
    k = len(cols)
    blank = [""] * k
    pct = 100
    rows: list[tuple[str, list[Any]]] = []

    def add(label: str, values: Any) -> None:
        if isinstance(values, pd.Series):
            values = [values[c] for c in cols]
        elif np.ndim(values) == 0:
            values = [values] * k
        for i, (name, _) in enumerate(rows):
            if name == label and label != "~":  # QuantStats fills the drawdown rows in place
                rows[i] = (label, list(values))
                return
        rows.append((label, list(values)))

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        n = len(df)
        mean, std = df.mean(), df.std()
        vol = std * np.sqrt(periods)
        skew, kurt = df.skew(), df.kurtosis()
        gross = comp(df)
        penalty = autocorr_penalty(df["returns"])
        dd = to_drawdown(df)
        max_dd = dd.min().clip(upper=0.0)
        ulcer = np.sqrt((dd**2).sum() / (n - 1))
        wins = df[df > 0]
        losses = df[df < 0]
        avg_win, avg_loss = wins.mean(), losses.mean()
        payoff = _ratio(avg_win, avg_loss.abs())
        wr = win_rate(df)
        pos_sum, neg_sum = df[df >= 0].sum(), df[df < 0].sum().abs()
        profit_factor = (pos_sum / neg_sum).replace([np.inf, -np.inf], 0)
        q = df.quantile([0.01, 0.05, 0.95, 0.99])
        tail = (q.loc[0.95] / q.loc[0.05]).abs().where(q.loc[0.05].notna() & (q.loc[0.05] != 0))
        monthly, quarterly, yearly = grouped(df, "ME"), grouped(df, "QE"), grouped(df, "YE")
        sharpe_raw = mean / std

        add("Start Period", [start[0]] * k)
        add("End Period", [start[-1]] * k)
        add("Risk-Free Rate %", 0.0)
        add("Time in Market %", exposure(df) * pct)
        add("~", blank)
        add("Cumulative Return %", (gross * pct).map("{:,.2f}".format))
        add("CAGR﹪%", cagr(df, periods) * pct)
        add("~", blank)
        add("Sharpe", sharpe_raw * np.sqrt(periods))
        sigma_sr = np.sqrt((1 - skew * sharpe_raw + (kurt + 3 - 1) / 4 * sharpe_raw**2) / (n - 1))
        z = sharpe_raw / sigma_sr
        add("Prob. Sharpe Ratio %", z.map(lambda v: _NORM.cdf(v) if np.isfinite(v) else np.nan) * pct)
        add("Smart Sharpe", mean / (std * penalty) * np.sqrt(periods))
        srt = sortino(df, periods)
        smart_srt = sortino(df, periods, penalty)
        add("Sortino", srt)
        add("Smart Sortino", smart_srt)
        add("Sortino/√2", srt / math.sqrt(2))
        add("Smart Sortino/√2", smart_srt / math.sqrt(2))
        omega = df[df > 0].sum() / neg_sum  # threshold (1 + 0) ** (1 / periods) - 1 = 0
        add("Omega", omega.where((neg_sum > 0) & (n >= 2)))
        add("~", blank)
        for label in ("Max Drawdown %", "Max DD Date", "Max DD Period Start", "Max DD Period End", "Longest DD Days"):
            add(label, blank)
        add("Volatility (ann.) %", vol * pct)
        if benchmark is not None:
            add("R^2", _r_squared(df["returns"].to_numpy(), df["benchmark"].to_numpy()))
            diff = df["returns"] - df["benchmark"]
            d_std = diff.std()
            add("Information Ratio", diff.mean() / d_std if d_std != 0 else 0)
        add("Calmar", cagr(df, periods) / max_dd.abs())
        add("Skew", skew)
        add("Kurtosis", kurt)
        add("Ulcer Performance Index", _ratio(gross, ulcer))
        add("Risk-Adjusted Return %", cagr(df, 252) / exposure(df) * pct)  # QuantStats' rar: cagr at 252
        add("Risk-Return Ratio", _ratio(mean, std))
        add("~", blank)
        add("Avg. Return %", df[df != 0].mean() * pct)
        add("Avg. Win %", avg_win * pct)
        add("Avg. Loss %", avg_loss * pct)
        add("Win/Loss Ratio", payoff)
        add("Profit Ratio", df.apply(_profit_ratio))
        add("~", blank)
        add("Expected Daily %%", _expected(df) * pct)
        add("Expected Monthly %%", _expected(monthly) * pct)
        add("Expected Yearly %%", _expected(yearly) * pct)
        payoff_safe = payoff.replace(0, np.nan)
        add("Kelly Criterion %", (payoff_safe * wr - (1 - wr)) / payoff_safe * pct)
        add("Risk of Ruin %", ((1 - wr) / (1 + wr)) ** df.count())
        z05 = _NORM.inv_cdf(_ALPHA)
        var = (mean + std * z05).where(std > 0)
        add("Daily Value-at-Risk %", -(var * pct).abs())
        add("Expected Shortfall (cVaR) %", -(_cvar(df) * pct).abs())
        add("~", blank)
        add("Max Consecutive Wins *int", _consecutive(df > 0))
        add("Max Consecutive Losses *int", _consecutive(df < 0))
        add("Gain/Pain Ratio", _gain_to_pain(df, "D"))
        add("Gain/Pain (1M)", _gain_to_pain(df, "ME"))
        add("~", blank)
        add("Payoff Ratio", payoff)
        add("Profit Factor", profit_factor)
        add("Common Sense Ratio", profit_factor * tail)
        add("CPC Index", profit_factor * wr * payoff)
        add("Tail Ratio", tail)
        add("Outlier Win Ratio", _ratio(q.loc[0.99], df[df >= 0].mean()))
        add("Outlier Loss Ratio", _ratio(q.loc[0.01], losses.mean()))
        add("~", blank)
        today = df.index[-1]
        idx = df.index
        for label, since in (
            ("MTD %", datetime(today.year, today.month, 1)),
            ("3M %", today - relativedelta(months=3)),
            ("6M %", today - relativedelta(months=6)),
            ("YTD %", datetime(today.year, 1, 1)),
            ("1Y %", today - relativedelta(years=1)),
        ):
            add(label, comp(df[idx >= since]) * pct)
        for label, months in (("3Y (ann.) %", 35), ("5Y (ann.) %", 59), ("10Y (ann.) %", 119)):
            add(label, cagr(df[idx >= today - relativedelta(months=months)], periods) * pct)
        add("All-time (ann.) %", cagr(df, periods) * pct)
        add("~", blank)
        add("Best Day %", df.max() * pct)
        add("Worst Day %", df.min() * pct)
        add("Best Month %", monthly.max() * pct)
        add("Worst Month %", monthly.min() * pct)
        add("Best Year %", yearly.max() * pct)
        add("Worst Year %", yearly.min() * pct)
        add("~", blank)
        for label, values in _dd_rows(dd, cols):
            add(label, values)
        add("Recovery Factor", _ratio(df.sum().abs(), max_dd.abs()))
        add("Ulcer Index", ulcer)
        pitfall = -_cvar(dd) / std.replace(0, np.nan)
        add("Serenity Index", _ratio(df.sum(), ulcer * pitfall))
        add("~", blank)
        add("Avg. Up Month %", monthly[monthly > 0].mean() * pct)
        add("Avg. Down Month %", monthly[monthly < 0].mean() * pct)
        add("Win Days %%", wr * pct)
        add("Win Month %%", win_rate(monthly) * pct)
        add("Win Quarter %%", win_rate(quarterly) * pct)
        add("Win Year %%", win_rate(yearly) * pct)
        if benchmark is not None:
            add("~", blank)
            r, b = df["returns"].to_numpy(), df["benchmark"].to_numpy()
            cov = np.cov(r, b)
            beta = np.nan if cov[1, 1] == 0 else cov[0, 1] / cov[1, 1]
            alpha = (r.mean() - beta * b.mean()) * periods
            beta, alpha = (0.0 if np.isnan(beta) else beta), (0.0 if np.isnan(alpha) else alpha)
            add("Beta", [str(round(beta, 2)), "-"])
            add("Alpha", [str(round(alpha, 2)), "-"])
            add("Correlation", [str(round(df["benchmark"].corr(df["returns"]) * pct, 2)) + "%", "-"])
            treynor = 0 if beta == 0 else gross["returns"] / beta
            add("Treynor Ratio", [str(round(treynor * pct, 2)) + "%", "-"])
    return rows, df


def _r_squared(x: np.ndarray, y: np.ndarray) -> float:
    """``scipy.stats.linregress(x, y).rvalue ** 2`` (QuantStats' R^2)."""
    if np.amax(x) == np.amin(x):
        return np.nan  # linregress refuses identical x values; QuantStats fails there
    ssxm, ssxym, _, ssym = np.cov(x, y, bias=True).flat
    den = np.sqrt(ssxm * ssym)
    r = 0.0 if den == 0 else min(max(ssxym / den, -1.0), 1.0)
    return r**2


def _profit_ratio(ret: pd.Series) -> float:
    wins, loss = ret[ret >= 0], ret[ret < 0]
    if len(wins) == 0:
        return 0.0
    if len(loss) == 0:
        return np.nan
    loss_ratio = abs(loss.mean() / len(loss))
    return np.nan if loss_ratio == 0 else abs(wins.mean() / len(wins)) / loss_ratio


def _expected(x: pd.DataFrame) -> pd.Series:
    return pd.Series(np.nanprod(1 + x.to_numpy(), axis=0), index=x.columns) ** (1 / x.count()) - 1


def _cvar(x: pd.DataFrame) -> pd.Series:
    mu, sd = x.mean(), x.std()
    shortfall = mu - sd * _NORM.pdf(_NORM.inv_cdf(_ALPHA)) / _ALPHA
    return shortfall.where((sd != 0) & sd.notna(), mu)


def _consecutive(flags: pd.DataFrame) -> pd.Series:
    out = {}
    for col in flags.columns:
        f = flags[col].to_numpy()
        run = np.flatnonzero(np.diff(np.r_[0, f.astype(np.int8), 0]))
        out[col] = int((run[1::2] - run[::2]).max()) if len(run) else 0
    return pd.Series(out)


def _gain_to_pain(x: pd.DataFrame, freq: str) -> pd.Series:
    s = _resample_sum(x, freq)
    return _ratio(s.sum(), s[s < 0].sum().abs())


def _dd_rows(dd: pd.DataFrame, cols: list[str]) -> list[tuple[str, list[Any]]]:
    """``reports._calc_dd``: worst drawdown and its dates, longest and average drawdown."""
    details = {c: drawdown_details(dd[c]) for c in cols}
    if all(d.empty for d in details.values()):
        return []
    labels = [
        "Max Drawdown %",
        "Max DD Date",
        "Max DD Period Start",
        "Max DD Period End",
        "Longest DD Days",
        "Avg. Drawdown %",
        "Avg. Drawdown Days",
    ]
    values: dict[str, list[Any]] = {label: [] for label in labels}
    for c in cols:
        d = details[c]
        if d.empty:  # never under water while the other column was: undefined here, as QuantStats
            for label in labels:
                values[label].append(np.nan)
            continue
        worst = d.sort_values(by="max drawdown", ascending=True).iloc[0]
        values["Max Drawdown %"].append(float(worst["max drawdown"]) / 100 * 100)
        values["Max DD Date"].append(worst["valley"])
        values["Max DD Period Start"].append(worst["start"])
        values["Max DD Period End"].append(worst["end"])
        values["Longest DD Days"].append(str(np.round(d.sort_values(by="days", ascending=False)["days"].values[0])))
        values["Avg. Drawdown %"].append(float(d["max drawdown"].mean()) / 100 * 100)
        values["Avg. Drawdown Days"].append(str(np.round(d["days"].mean())))
    return [(label, values[label]) for label in labels]


def format_table(rows: list[tuple[str, list[Any]]], columns: list[str]) -> pd.DataFrame:
    """QuantStats' display formatting of :func:`metric_rows` (``internal`` mode): two decimals,
    ``%`` signs, integers, ``-`` for undefined values; the benchmark column first."""
    labels = [label for label, _ in rows]
    formatted: list[list[Any]] = []
    names: list[str] = []
    for label, values in rows:
        s = pd.Series(values, dtype=object)
        try:
            s = s.astype(float).round(2).astype(str)
        except (ValueError, TypeError):
            pass
        name = label
        if "*int" in label:
            s = s.str.replace(".0", "", regex=False)
            name = label.replace("*int", "")
        if "%" in label:
            s = s + "%"
        if label in ("Longest DD Days", "Avg. Drawdown Days"):
            try:
                s = pd.to_numeric(s).astype("int").astype(str)
            except (ValueError, TypeError):
                s = pd.Series(["-"] * len(s), dtype=object)
        formatted.append(list(s))
        names.append(name)
    if "Avg. Drawdown Days" not in labels:  # no drawdown at all: QuantStats' fallback
        formatted[labels.index("Longest DD Days")] = ["-"] * len(columns)
        formatted.append(["-"] * len(columns))
        names.append("Avg. Drawdown Days")
    names = ["" if "~" in n else n for n in names]
    names = [n[:-1] if "%" in n else n for n in names]
    names = [n.replace(" %", "").replace(" *int", "").strip() for n in names]
    table = pd.DataFrame(formatted, index=names, columns=columns, dtype=object)
    bad = {"-nan%", "nan%", "-nan", "nan", "-inf%", "inf%", "-inf", "inf", "-0"}
    table = table.map(lambda v: "-" if (v in bad if isinstance(v, str) else _undefined(v)) else v)
    if len(columns) > 1:
        table = table[[columns[1], columns[0]]]
    return table


def _undefined(v: Any) -> bool:
    try:
        return not math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def eoy_table(
    returns: pd.Series, original_benchmark: pd.Series | None, strategy: str, bench_title: str | None
) -> pd.DataFrame:
    """The EOY table of ``reports.html``: yearly compounded returns (%) against the benchmark's
    (as given), their ratio and who won; without a benchmark the yearly sum and compounded return."""
    if original_benchmark is None:
        out = pd.DataFrame({"Return": grouped(returns, "YE", compounded=False) * 100})
        out["Cumulative"] = grouped(returns, "YE") * 100
    else:
        out = pd.DataFrame(
            {"Benchmark": grouped(original_benchmark, "YE") * 100, "Returns": grouped(returns, "YE") * 100}
        )
        out["Multiplier"] = out["Returns"] / out["Benchmark"].replace(0, np.nan)
        out["Won"] = np.where(out["Returns"] >= out["Benchmark"], "+", "-")
        out.columns = [bench_title or "Benchmark", strategy, "Multiplier", "Won"]
    out.index.name = "Year"
    return out


def worst_drawdowns(returns: pd.Series, n: int = 10) -> pd.DataFrame:
    """The worst ``n`` drawdown periods (``Started``, ``Recovered``, ``Drawdown`` in %, ``Days``)."""
    details = drawdown_details(to_drawdown(returns.to_frame("r"))["r"])
    table = details.sort_values(by="max drawdown", ascending=True)[:n][["start", "end", "max drawdown", "days"]]
    table.columns = ["Started", "Recovered", "Drawdown", "Days"]
    return table
