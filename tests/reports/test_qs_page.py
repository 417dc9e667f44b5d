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


def test_page_offline_with_every_section(tmp_path: Path) -> None:
    r, b = _case()
    page = qp.tearsheet_page(r, b, tmp_path / "tearsheet.html", "sma_cross on SYN").read_text()
    text = re.sub(r'data:image/png;base64,[^"]+', "", page)
    assert "http://" not in text and "https://" not in text
    assert "{{" not in text
    assert "autostock's rendering of the QuantStats report" in text and "sma_cross on SYN" in text
    for section in (
        "Key Performance Metrics",
        "EOY Returns vs Benchmark",
        "Worst 10 Drawdowns",
        "Monthly Returns (%)",
        "Smart Sortino",
        "Treynor Ratio",
    ):
        assert section in text, section
    for div in ("log_returns", "vol_returns", "eoy_returns", "monthly_dist", "daily_returns", "rolling_beta"):
        assert re.search(rf'<div id="{div}"><img src="data:image/png', page), div
    for div in ("rolling_vol", "rolling_sharpe", "rolling_sortino", "dd_periods", "dd_plot", "returns_dist"):
        assert re.search(rf'<div id="{div}"><img src="data:image/png', page), div
    alone = qp.tearsheet_page(r, None, tmp_path / "alone.html", "x").read_text()
    assert "<h3>EOY Returns</h3>" in alone and 'id="rolling_beta"></div>' in alone


def test_page_imports_no_quantstats_seaborn_scipy(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np, pandas as pd\n"
        "from autostock.reports.qs_page import tearsheet_page\n"
        "i = pd.bdate_range('2020-01-01', periods=300)\n"
        "r = pd.Series(np.random.default_rng(1).normal(0, .01, 300), index=i)\n"
        f"tearsheet_page(r, r.rename('B') * .5, {str(tmp_path / 'p.html')!r}, 't')\n"
        "print(sorted(m for m in ('quantstats', 'seaborn', 'scipy') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(root)}
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
    assert (tmp_path / "p.html").is_file()
