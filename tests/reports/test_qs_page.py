"""The default ``tearsheet.html`` (autostock.reports.qs_page) against QuantStats' own functions."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autostock.reports import qs_metrics as qm
from autostock.reports import qs_page as qp
from autostock.reports import webcharts as wc
from tests.chrome import chrome, drawn_charts, needs_chromium, remote_refs, specs

qs = pytest.importorskip("quantstats")


def _case(
    n: int = 300, seed: int = 0, bench: bool = True, flat: bool = False, first_down: bool = False, up: bool = False
):
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2019-03-05", periods=n)
    r = pd.Series(rng.normal(0.0005, 0.01, n), index=idx)
    r[rng.random(n) < 0.3] = 0.0
    if up:  # never under water
        r = r.abs()
    if flat:
        r[:] = 0.0
    if first_down:
        r.iloc[0] = -0.02
    b = pd.Series(rng.normal(0.0003, 0.012, n), index=idx, name="SPY") if bench else None
    return r, b


def _qs_metrics(r: pd.Series, b: pd.Series | None, periods: int = 252) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return qs.reports.metrics(
            r.copy(),
            benchmark=None if b is None else b.copy(),
            display=False,
            mode="full",
            sep=True,
            internal="True",
            periods_per_year=periods,
            prepare_returns=False,
            benchmark_title=None if b is None else b.name,
            strategy_title="Strategy",
            match_dates=False,
        )[2:]


CASES = {
    "benchmark": {},
    "no_benchmark": {"bench": False},
    "flat_no_benchmark": {"flat": True, "bench": False},
    "short_first_bar_down": {"n": 60, "seed": 3, "first_down": True},
    "strategy_never_under_water": {"n": 120, "up": True},
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("periods", [252, 52])
def test_metrics_table_equals_quantstats(name: str, periods: int) -> None:
    r, b = _case(**CASES[name])
    mine = qp.tables(r, b, periods, None if b is None else "SPY")["metrics"]
    ref = _qs_metrics(r, b, periods)
    assert list(mine.index) == list(ref.index)
    assert list(mine.columns) == list(ref.columns)
    # every row as QuantStats displays it
    assert [list(map(str, row)) for row in mine.itertuples(index=False)] == [
        list(map(str, row)) for row in ref.itertuples(index=False)
    ]


def test_flat_strategy_with_benchmark_page_where_quantstats_fails(tmp_path: Path) -> None:
    r, b = _case(flat=True)
    with pytest.raises(ValueError):  # linregress of identical values
        _qs_metrics(r, b)
    table = qp.tables(r, b, 252, "SPY")["metrics"]
    assert table.loc["R^2", "Strategy"] == "-" and table.loc["Sharpe", "Strategy"] == "-"
    assert table.loc["Sharpe", "SPY"] != "-"
    assert qp.tearsheet_page(r, b, tmp_path / "t.html", "flat").is_file()


def test_raw_metrics_equal_quantstats_functions() -> None:
    r, b = _case()
    rows, df = qm.metric_rows(*qm.prepare(r, b)[:2], 252)
    raw = {label: values for label, values in rows}
    st = qs.stats
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {
            "CAGR﹪%": st.cagr(df, 0.0, True, 252) * 100,
            "Sharpe": st.sharpe(df, 0.0, 252),
            "Prob. Sharpe Ratio %": pd.Series(st.probabilistic_sharpe_ratio(df, 0.0, 252), index=df.columns) * 100,
            "Smart Sharpe": st.smart_sharpe(df, 0.0, 252),
            "Sortino": st.sortino(df, 0.0, 252),
            "Smart Sortino": st.smart_sortino(df, 0.0, 252),
            "Volatility (ann.) %": st.volatility(df, 252, prepare_returns=False) * 100,
            "Calmar": st.calmar(df, prepare_returns=False, periods=252),
            "Ulcer Performance Index": st.ulcer_performance_index(df),
            "Risk-Adjusted Return %": st.rar(df, 0.0, periods=252) * 100,
            "Expected Monthly %%": st.expected_return(df, aggregate="ME", prepare_returns=False) * 100,
            "Kelly Criterion %": st.kelly_criterion(df, prepare_returns=False) * 100,
            "Risk of Ruin %": st.risk_of_ruin(df, prepare_returns=False),
            "Daily Value-at-Risk %": -abs(st.var(df, prepare_returns=False) * 100),
            "Expected Shortfall (cVaR) %": -abs(st.cvar(df, prepare_returns=False) * 100),
            "Gain/Pain (1M)": st.gain_to_pain_ratio(df, 0, "ME"),
            "Profit Factor": st.profit_factor(df, prepare_returns=False),
            "Common Sense Ratio": st.common_sense_ratio(df, prepare_returns=False),
            "CPC Index": st.cpc_index(df, prepare_returns=False),
            "Outlier Win Ratio": st.outlier_win_ratio(df, prepare_returns=False),
            "Recovery Factor": st.recovery_factor(df),
            "Ulcer Index": st.ulcer_index(df),
            "Serenity Index": st.serenity_index(df),
            "Win Quarter %%": st.win_rate(df, aggregate="QE", prepare_returns=False) * 100,
            "Best Month %": st.best(df, aggregate="ME", prepare_returns=False) * 100,
            "Avg. Down Month %": st.avg_loss(df, aggregate="ME", prepare_returns=False) * 100,
        }
    for label, want in expected.items():
        got = np.asarray(raw[label], dtype=float)
        want = np.broadcast_to(np.asarray(want, dtype=float), got.shape)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=label)
    omega = [st.omega(df[c], 0.0, 0.0, 252) for c in df.columns]
    np.testing.assert_allclose(raw["Omega"], omega, rtol=1e-9)
    np.testing.assert_allclose(raw["R^2"][0], st.r_squared(df["returns"], df["benchmark"]), rtol=1e-9)


@pytest.mark.parametrize("bench", [True, False])
def test_eoy_and_drawdown_tables_equal_quantstats(bench: bool) -> None:
    r, b = _case(n=700, seed=5, bench=bench, first_down=True)
    tabs = qp.tables(r, b, 252, "SPY" if bench else None)
    if bench:
        ref = qs.stats.compare(r, b, "YE", prepare_returns=False)
        ref.columns = ["SPY", "Strategy", "Multiplier", "Won"]
    else:
        ref = pd.DataFrame({"Return": qs.utils.group_returns(r, r.index.year) * 100})
        ref["Cumulative"] = qs.utils.group_returns(r, r.index.year, True) * 100
    ref.index.name = "Year"
    pd.testing.assert_frame_equal(tabs["eoy"], ref, rtol=1e-9, check_index_type=False)
    dd = qs.stats.drawdown_details(qs.stats.to_drawdown_series(r)).sort_values(by="max drawdown")[:10]
    dd = dd[["start", "end", "max drawdown", "days"]]
    dd.columns = ["Started", "Recovered", "Drawdown", "Days"]
    mine = tabs["drawdowns"]
    assert list(mine["Started"]) == list(dd["Started"]) and list(mine["Recovered"]) == list(dd["Recovered"])
    np.testing.assert_allclose(mine["Drawdown"], dd["Drawdown"], rtol=1e-9)
    assert list(mine["Days"]) == list(dd["Days"])


@pytest.mark.parametrize("periods", [252, 51])
def test_chart_series_equal_quantstats(periods: int) -> None:
    r, b = _case(n=400, seed=7)
    data = qp.chart_series(r, b, periods)
    half = -(-periods // 2)  # QuantStats' half-year window rounds up
    st = qs.stats
    pd.testing.assert_series_equal(data["cumulative"], st.compsum(r), rtol=1e-9, check_names=False)
    pd.testing.assert_series_equal(
        data["rolling_vol"], st.rolling_volatility(r, half, periods), rtol=1e-9, check_names=False
    )
    sharpe = st.rolling_sharpe(r, 0.0, half, periods_per_year=periods)
    pd.testing.assert_series_equal(data["rolling_sharpe"], sharpe, rtol=1e-9)
    sortino = st.rolling_sortino(r, 0.0, half, periods_per_year=periods)
    pd.testing.assert_series_equal(data["rolling_sortino"], sortino, rtol=1e-9)
    greeks = st.rolling_greeks(r, b, half)["beta"].fillna(0)
    pd.testing.assert_series_equal(data["rolling_beta_half"], greeks, rtol=1e-7, atol=1e-9, check_names=False)
    year = st.rolling_greeks(r, b, periods)["beta"]
    pd.testing.assert_series_equal(data["rolling_beta_year"], year, rtol=1e-7, atol=1e-9, check_names=False)
    pd.testing.assert_series_equal(
        data["drawdown"], st.to_drawdown_series(r), rtol=1e-9, check_names=False, check_freq=False
    )
    matched = r / r.std() * b.std()
    pd.testing.assert_series_equal(data["vol_matched"], st.compsum(matched), rtol=1e-9, check_names=False)
    heat = st.monthly_returns(r, eoy=False) * 100
    np.testing.assert_allclose(data["heatmap"].to_numpy(), heat.to_numpy(), rtol=1e-9, atol=1e-12)
    yearly = qs.utils.group_returns(r, r.index.year, True)
    np.testing.assert_allclose(data["eoy"].to_numpy(), yearly.to_numpy(), rtol=1e-9)
    monthly = qs.utils.group_returns(r, [r.index.year, r.index.month], True)
    np.testing.assert_allclose(data["monthly"].to_numpy(), monthly.to_numpy(), rtol=1e-9)
    # the return quantiles: QuantStats' plot_distribution frame (resampled, on the daily index, ffilled)
    from quantstats._compat import safe_resample

    port = pd.DataFrame({"Daily": r.fillna(0)})
    for name, freq in (("Weekly", "W-MON"), ("Monthly", "ME"), ("Quarterly", "QE"), ("Yearly", "YE")):
        port[name] = safe_resample(port["Daily"], freq, st.comp)
        port[name] = port[name].ffill()
    pd.testing.assert_frame_equal(data["quantiles"], port, rtol=1e-9, check_freq=False)


def test_shaded_drawdown_periods_equal_quantstats() -> None:
    r, _ = _case(n=700, seed=11, bench=False, first_down=True)
    mine = qp.longest_drawdowns(qm.drawdown_details(qm.to_drawdown(r.to_frame("r"))["r"]))
    ref = qs.stats.drawdown_details(qs.stats.to_drawdown_series(r.fillna(0)))
    ref = ref.sort_values(by="days", ascending=False, kind="mergesort")[:5]
    assert list(zip(mine["start"], mine["end"], strict=True)) == list(zip(ref["start"], ref["end"], strict=True))


def _values(row: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in row], dtype=float)


def _close(row: list, want, err: str = "") -> None:
    """Plotted values (6 significant digits, null for gaps) against ``want``."""
    np.testing.assert_allclose(_values(row), np.asarray(want, dtype=float), rtol=1e-5, atol=1e-12, err_msg=err)


def _page_specs(tmp_path: Path, r: pd.Series, b: pd.Series | None, name: str = "t.html") -> dict[str, dict]:
    page = qp.tearsheet_page(r, b, tmp_path / name, "t").read_text()
    return {s["title"]: s for s in specs(page)}


TITLES = [
    "Cumulative Returns vs Benchmark",
    "Cumulative Returns vs Benchmark (Log Scaled)",
    "Cumulative Returns vs Benchmark (Volatility Matched)",
    "EOY Returns  vs Benchmark",
    "Distribution of Monthly Returns",
    "Daily Returns (Cumulative Sum)",
    "Rolling Beta to Benchmark",
    "Rolling Volatility (6-Months)",
    "Rolling Sharpe (6-Months)",
    "Rolling Sortino (6-Months)",
    "Strategy - Worst 5 Drawdown Periods",
    "Underwater Plot",
    "Strategy - Return Quantiles",
]
TITLES_ALONE = [
    "Cumulative Returns",
    "Cumulative Returns (Log Scaled)",
    "EOY Returns",
    *TITLES[4:6],
    *TITLES[7:],
]


def test_chart_specs_plot_quantstats_series(tmp_path: Path) -> None:
    r, b = _case(n=400, seed=7)
    got = _page_specs(tmp_path, r, b)
    assert list(got) == TITLES
    st, half = qs.stats, 126
    data = qp.chart_series(*qm.prepare(r, b)[:2], 252)
    x = wc.epoch_seconds(r.index).tolist()
    for title in TITLES:
        if got[title]["x"]["kind"] == "time":
            assert got[title]["data"][0] == x, title
    series = {
        "Cumulative Returns vs Benchmark": [st.compsum(b) * 100, st.compsum(r) * 100],
        "Cumulative Returns vs Benchmark (Volatility Matched)": [
            st.compsum(b) * 100,
            st.compsum(r / r.std() * b.std()) * 100,
        ],
        "Daily Returns (Cumulative Sum)": [data["daily_cumsum"] * 100],
        "Rolling Beta to Benchmark": [
            st.rolling_greeks(r, b, half)["beta"].fillna(0),
            st.rolling_greeks(r, b, 252)["beta"],
        ],
        "Rolling Volatility (6-Months)": [st.rolling_volatility(b, half, 252), st.rolling_volatility(r, half, 252)],
        "Rolling Sharpe (6-Months)": [st.rolling_sharpe(r, 0.0, half, periods_per_year=252)],
        "Rolling Sortino (6-Months)": [st.rolling_sortino(r, 0.0, half, periods_per_year=252)],
        "Strategy - Worst 5 Drawdown Periods": [st.compsum(r) * 100],
        "Underwater Plot": [st.to_drawdown_series(r) * 100],
    }
    series["Cumulative Returns vs Benchmark (Log Scaled)"] = series["Cumulative Returns vs Benchmark"]
    for title, want in series.items():
        spec = got[title]
        assert [s["label"] for s in spec["series"]][-1] in ("Strategy", "Drawdown", "12-Months"), title
        assert len(spec["data"]) == 1 + len(want), title
        for row, w in zip(spec["data"][1:], want, strict=True):
            _close(row, w, title)
    log = got["Cumulative Returns vs Benchmark (Log Scaled)"]["y"]
    assert log["scale"] == "symlog" and log["linthresh"] > 0
    assert [s["color"] for s in got["Cumulative Returns vs Benchmark"]["series"]] == ["#fedd78", "#348dc1"]
    assert [s["label"] for s in got["Cumulative Returns vs Benchmark"]["series"]] == ["SPY", "Strategy"]
    # the mean lines (QuantStats' hline) and the zero line
    means = {
        "Rolling Volatility (6-Months)": st.rolling_volatility(r, half, 252).mean(),
        "Rolling Sharpe (6-Months)": st.rolling_sharpe(r, 0.0, half, periods_per_year=252).mean(),
        "Underwater Plot": st.to_drawdown_series(r).mean() * 100,
        "Rolling Beta to Benchmark": st.rolling_greeks(r, b, half)["beta"].fillna(0).mean(),
    }
    for title, mean in means.items():
        assert [h["value"] for h in got[title]["hlines"]] == pytest.approx([mean, 0.0], rel=1e-9), title
    # EOY bars: years as categories, the benchmark's left of each year, the strategy's right
    eoy = got["EOY Returns  vs Benchmark"]
    yearly = qs.utils.group_returns(r, r.index.year, True) * 100
    assert eoy["x"]["labels"] == [str(y) for y in yearly.index]
    _close(eoy["data"][1], qs.utils.group_returns(b, b.index.year, True) * 100)
    _close(eoy["data"][2], yearly)
    assert [(s["kind"], s["align"]) for s in eoy["series"]] == [("bars", -1), ("bars", 1)]
    assert eoy["hlines"][0]["value"] == pytest.approx(yearly.mean(), rel=1e-9)
    # monthly returns on common bins, the strategy's mean marked
    dist = got["Distribution of Monthly Returns"]
    months = [qs.utils.group_returns(s, [s.index.year, s.index.month], True) * 100 for s in (b, r)]
    edges = np.histogram_bin_edges(np.concatenate(months), bins=20)
    _close(dist["data"][0], (edges[:-1] + edges[1:]) / 2)
    for row, m in zip(dist["data"][1:], months, strict=True):
        assert _values(row).tolist() == np.histogram(m, bins=edges)[0].tolist()
    assert dist["vlines"][0]["x"] == pytest.approx(months[1].mean(), rel=1e-9)
    # the worst 5 drawdown periods QuantStats shades
    longest = qs.stats.drawdown_details(st.to_drawdown_series(r.fillna(0)))
    longest = longest.sort_values(by="days", ascending=False, kind="mergesort")[:5]
    bands = got["Strategy - Worst 5 Drawdown Periods"]["bands"]
    starts, ends = pd.DatetimeIndex(longest["start"]), pd.DatetimeIndex(longest["end"])
    assert [bd[:2] for bd in bands] == [
        [int(a), int(e)] for a, e in zip(wc.epoch_seconds(starts), wc.epoch_seconds(ends), strict=True)
    ]


def test_return_quantile_boxes_are_matplotlibs_boxplot_of_quantstats_frame(tmp_path: Path) -> None:
    cbook = pytest.importorskip("matplotlib.cbook")
    from quantstats._compat import safe_resample

    r, b = _case(n=500, seed=9)
    spec = _page_specs(tmp_path, r, b)["Strategy - Return Quantiles"]
    port = pd.DataFrame({"Daily": r.fillna(0)})
    for name, freq in (("Weekly", "W-MON"), ("Monthly", "ME"), ("Quarterly", "QE"), ("Yearly", "YE")):
        port[name] = safe_resample(port["Daily"], freq, qs.stats.comp)  # on the daily index
        port[name] = port[name].ffill()
    assert spec["x"]["labels"] == list(port.columns)
    assert [bx["color"] for bx in spec["boxes"]] == ["#fedd78", "#348dc1", "#ba516b", "#4fa487", "#9b59b6"]
    for bx, column in zip(spec["boxes"], port.columns, strict=True):
        (ref,) = cbook.boxplot_stats(port[column].dropna().to_numpy() * 100)
        want = {"q1": ref["q1"], "median": ref["med"], "q3": ref["q3"], "lo": ref["whislo"], "hi": ref["whishi"]}
        assert {k: bx[k] for k in want} == pytest.approx(want, rel=1e-9), column
    # hidden series holding each box's whiskers, so that the y range spans them
    assert [s["kind"] for s in spec["series"]] == ["hidden", "hidden"]
    _close(spec["data"][1], [bx["lo"] for bx in spec["boxes"]])
    _close(spec["data"][2], [bx["hi"] for bx in spec["boxes"]])


def test_page_without_benchmark_and_infinite_sortino_written_as_gaps(tmp_path: Path) -> None:
    r, _ = _case(n=300, up=True, bench=False)
    got = _page_specs(tmp_path, r, None)
    assert list(got) == TITLES_ALONE
    sortino = qp.chart_series(r, None, 252)["rolling_sortino"]
    assert np.isinf(sortino).sum() > 100  # never under water: no downside deviation
    row = got["Rolling Sortino (6-Months)"]["data"][1]
    assert [v is None for v in row] == (~np.isfinite(sortino)).tolist()
    assert got["Rolling Sortino (6-Months)"]["hlines"] == [{"value": 0.0, "color": "#000000", "dash": True, "width": 1}]
    for title in ("Cumulative Returns", "EOY Returns", "Rolling Volatility (6-Months)"):
        assert [s["label"] for s in got[title]["series"]] == ["Strategy"], title
    _close(got["Cumulative Returns"]["data"][1], qs.stats.compsum(r) * 100)


def test_heatmap_colours_are_matplotlibs_rdylgn(tmp_path: Path) -> None:
    colors = pytest.importorskip("matplotlib.colors")
    from matplotlib import colormaps

    r, _ = _case(n=700, seed=4, bench=False)
    page = qp.tearsheet_page(r, None, tmp_path / "t.html", "t").read_text()
    heat = page[page.index('<table class="heatmap">') :]
    got = re.findall(r'<td style="background:(#[0-9a-f]{6});text-align:center">(-?[0-9.]+)</td>', heat)
    values = qs.stats.monthly_returns(r, eoy=False).to_numpy() * 100
    span = np.abs(values).max()
    want = [colors.to_hex(c) for c in colormaps["RdYlGn"](0.5 + values.ravel() / (2 * span))]
    assert [c for c, _ in got] == want
    np.testing.assert_allclose([float(v) for _, v in got], values.ravel(), atol=0.005)


def test_page_offline_with_every_section(tmp_path: Path) -> None:
    r, b = _case()
    page = qp.tearsheet_page(r, b, tmp_path / "tearsheet.html", "sma_cross on SYN").read_text()
    assert remote_refs(page) == []
    assert remote_refs('<script src="https://cdn/x.js">') and remote_refs("<style>@import 'a.css'</style>")
    assert "{{" not in page and "<img" not in page
    assert "autostock's rendering of the QuantStats report" in page and "sma_cross on SYN" in page
    head = page.split("</head>")[0]
    assert "uPlot" in head and "as-chart-spec" in head  # uPlot and the glue script, inline
    for section in (
        "Key Performance Metrics",
        "EOY Returns vs Benchmark",
        "Worst 10 Drawdowns",
        "Monthly Returns (%)",
        "Smart Sortino",
        "Treynor Ratio",
    ):
        assert section in page, section
    for div in ("log_returns", "vol_returns", "eoy_returns", "monthly_dist", "daily_returns", "rolling_beta"):
        assert re.search(rf'<div id="{div}"><div class="as-chart"></div><script', page), div
    for div in ("rolling_vol", "rolling_sharpe", "rolling_sortino", "dd_periods", "dd_plot", "returns_dist"):
        assert re.search(rf'<div id="{div}"><div class="as-chart"></div><script', page), div
    assert len(specs(page)) == 13
    alone = qp.tearsheet_page(r, None, tmp_path / "alone.html", "x").read_text()
    assert "<h3>EOY Returns</h3>" in alone and 'id="rolling_beta"></div>' in alone and len(specs(alone)) == 11


def test_minimal_template_has_the_chart_scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qp, "_template", lambda: (qp._MINIMAL, "n/a"))
    r, b = _case(n=120)
    page = qp.tearsheet_page(r, b, tmp_path / "t.html", "minimal").read_text()
    assert "<title>minimal</title>" in page and "uPlot" in page.split("</head>")[0]
    assert len(specs(page)) == 13 and remote_refs(page) == []
    # 120 days from March 2019: each quarter's end label (31 Mar, 30 Jun) is a Sunday, so QuantStats'
    # frame has no quarterly or yearly value on the daily index: no box for them
    quantiles = {s["title"]: s for s in specs(page)}["Strategy - Return Quantiles"]
    assert quantiles["x"]["labels"] == ["Daily", "Weekly", "Monthly"] and len(quantiles["boxes"]) == 3


def test_page_imports_no_plotting_library_quantstats_or_scipy(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np, pandas as pd\n"
        "from autostock.reports.qs_page import tearsheet_page\n"
        "i = pd.bdate_range('2020-01-01', periods=300)\n"
        "r = pd.Series(np.random.default_rng(1).normal(0, .01, 300), index=i)\n"
        f"tearsheet_page(r, r.rename('B') * .5, {str(tmp_path / 'p.html')!r}, 't')\n"
        f"tearsheet_page(r, None, {str(tmp_path / 'q.html')!r}, 't')\n"
        "names = ('matplotlib', 'quantstats', 'seaborn', 'scipy')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in names))\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(root)}
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
    assert len(specs((tmp_path / "p.html").read_text())) == 13


@pytest.mark.browser
@needs_chromium
def test_every_tearsheet_chart_draws_in_headless_chromium(tmp_path: Path) -> None:
    r, b = _case(n=600, seed=2)
    with_b = qp.tearsheet_page(r, b, tmp_path / "with.html", "with benchmark")
    alone = qp.tearsheet_page(r, None, tmp_path / "alone.html", "alone")
    driver = chrome(tmp_path)
    try:
        got = [drawn_charts(driver, with_b), drawn_charts(driver, alone)]
    finally:
        driver.quit()
    for report, titles in zip(got, (TITLES, TITLES_ALONE), strict=True):
        assert report["errors"] == [] and report["failed"] == []
        assert report["charts"] == report["drawn"] == len(titles)
        assert report["titles"] == titles
        assert all(n > 2000 for n in report["inked"]), report["inked"]
