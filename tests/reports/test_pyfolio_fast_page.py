"""The default returns tear sheet plots and writes pyfolio's own numbers, without importing pyfolio.

Every series :func:`tear_sheet_data` hands to the drawing code, and the performance table, is
compared with pyfolio's (or empyrical's) own function on a seeded series and on a short real one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autostock.reports import pyfolio_page as pp

TOL = {"rtol": 1e-9, "atol": 1e-12}


def seeded(n: int = 300, seed: int = 5) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2016-01-04", periods=n, tz="UTC")
    bench = pd.Series(rng.normal(0.0004, 0.011, n), index=idx, name="SPY")
    rets = pd.Series(0.6 * bench.to_numpy() + rng.normal(0.0001, 0.009, n), index=idx)
    rets.iloc[:5] = 0.0  # flat before the first trade, as a backtest starts
    return rets, bench


def real(shared: Path) -> tuple[pd.Series, pd.Series]:
    """ORCL's daily close-to-close returns against NVDA's, July 2003 - 2004."""

    def daily(name: str) -> pd.Series:
        frame = pd.read_csv(shared / name, index_col="Date", parse_dates=True)
        close = frame["Adj Close"].loc["2003-06-30":"2004-12-31"]
        out = close.pct_change().iloc[1:]
        out.index = out.index.tz_localize("UTC")
        return out

    rets = daily("orcl-1995-2014.csv")
    bench = daily("nvda-1999-2014.csv").reindex(rets.index).fillna(0.0).rename("NVDA")
    return rets, bench


def assert_series_equal(got: pd.Series, expected: pd.Series) -> None:
    assert len(got) == len(expected)
    assert got.index.equals(expected.index)
    assert got.isna().to_numpy().tolist() == expected.isna().to_numpy().tolist()
    assert got.notna().sum() > 0
    np.testing.assert_allclose(got.dropna().to_numpy(), expected.dropna().to_numpy(), **TOL)


def pyfolio_line(plot, *args, label: str | None = None, **kwargs) -> np.ndarray:
    """The y values pyfolio's own plotting function draws (its line with ``label``, or the first)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        plot(*args, ax=ax, **kwargs)
        lines = [ln for ln in ax.lines if label is None or ln.get_label() == label]
        return np.asarray(lines[0].get_ydata(), dtype="float64")
    finally:
        plt.close(fig)


def check_against_pyfolio(rets: pd.Series, bench: pd.Series) -> dict:
    import empyrical as ep
    import pyfolio.plotting
    import pyfolio.timeseries as ts

    data = pp.tear_sheet_data(rets, bench)
    assert_series_equal(data["cum_returns"], ep.cum_returns(rets, 1.0))
    assert_series_equal(data["benchmark_cum_returns"], ep.cum_returns(bench, 1.0))
    vol_matched = pyfolio_line(
        pyfolio.plotting.plot_rolling_returns, rets, factor_returns=bench, volatility_match=True, label="Backtest"
    )
    np.testing.assert_allclose(data["vol_matched_cum_returns"].to_numpy(), vol_matched, **TOL)
    for key, window in (("rolling_beta_6m", 126), ("rolling_beta_12m", 252)):
        assert_series_equal(data[key], ts.rolling_beta(rets, bench, rolling_window=window))
    assert_series_equal(data["rolling_volatility"], ts.rolling_volatility(rets, 126))
    assert_series_equal(data["benchmark_rolling_volatility"], ts.rolling_volatility(bench, 126))
    assert_series_equal(data["rolling_sharpe"], ts.rolling_sharpe(rets, 126))
    underwater = pyfolio_line(pyfolio.plotting.plot_drawdown_underwater, rets)
    np.testing.assert_allclose(data["underwater"].to_numpy(), underwater, **TOL)
    for key, period in (("weekly", "weekly"), ("monthly", "monthly"), ("yearly", "yearly")):
        expected = ep.aggregate_returns(rets, period)
        assert data[key].index.tolist() == expected.index.tolist()
        np.testing.assert_allclose(data[key].to_numpy(), expected.to_numpy(), **TOL)
    table = ep.aggregate_returns(rets, "monthly").unstack().round(3)
    pd.testing.assert_frame_equal(data["monthly_table"], table, check_names=False, rtol=1e-9, atol=1e-12)
    check_drawdowns(data["drawdowns"], ts.gen_drawdown_table(rets, top=5))
    expected_stats = ts.perf_stats(rets, factor_returns=bench)
    assert data["perf_stats"].index.tolist() == expected_stats.index.tolist()
    np.testing.assert_allclose(data["perf_stats"].to_numpy(), expected_stats.to_numpy(dtype="float64"), **TOL)
    return data


def check_drawdowns(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert got.columns.tolist() == expected.columns.tolist()
    assert len(got) == len(expected)
    for col in ("Peak date", "Valley date", "Recovery date"):
        want = pd.to_datetime(expected[col])
        assert got[col].isna().tolist() == want.isna().tolist()
        assert got[col].dropna().tolist() == want.dropna().tolist()
    for col in ("Net drawdown in %", "Duration"):
        a = pd.to_numeric(got[col]).to_numpy(dtype="float64")
        b = pd.to_numeric(expected[col]).to_numpy(dtype="float64")
        assert np.isnan(a).tolist() == np.isnan(b).tolist()
        np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], **TOL)
    assert got["Peak date"].notna().sum() >= 1


def test_seeded_series_plots_pyfolios_numbers():
    rets, bench = seeded()
    data = check_against_pyfolio(rets, bench)
    assert data["drawdowns"]["Peak date"].notna().sum() == 5


def test_short_real_series_plots_pyfolios_numbers(shared_data):
    rets, bench = real(shared_data)
    assert len(rets) > 350
    check_against_pyfolio(rets, bench)


def test_unrecovered_drawdown_and_no_benchmark_match_pyfolio():
    import pyfolio.timeseries as ts

    rets, _ = seeded(n=260, seed=9)
    rets.iloc[-60:] = -0.004  # the series ends under water
    data = pp.tear_sheet_data(rets, None)
    table = data["drawdowns"]
    check_drawdowns(table, ts.gen_drawdown_table(rets, top=5))
    assert table["Recovery date"].isna().any()
    expected = ts.perf_stats(rets)
    assert data["perf_stats"].index.tolist() == expected.index.tolist()
    assert "Beta" not in data["perf_stats"].index
    np.testing.assert_allclose(data["perf_stats"].to_numpy(), expected.to_numpy(dtype="float64"), **TOL)


@pytest.mark.parametrize("with_benchmark", [True, False])
def test_the_page_has_pyfolios_panels(with_benchmark):
    rets, bench = seeded(n=300)
    fig = pp.draw_returns_tear_sheet(pp.tear_sheet_data(rets, bench if with_benchmark else None))
    titles = [ax.get_title() for ax in fig.axes]
    expected = [t.format(benchmark="SPY") for t in pp.PANEL_TITLES]
    if not with_benchmark:
        expected.remove("Rolling portfolio beta to SPY")
    assert titles == expected


def edge_series() -> dict[str, pd.Series]:
    rng = np.random.default_rng(11)
    idx = pd.bdate_range("2016-01-04", periods=120, tz="UTC")
    noisy = rng.normal(0.0005, 0.01, 120)
    return {
        "zero volatility (no trades)": pd.Series(0.0, index=idx),
        "constant return": pd.Series(0.001, index=idx),
        "one bar": pd.Series([0.01], index=idx[:1]),
        "two bars": pd.Series([0.01, -0.02], index=idx[:2]),
        "three bars": pd.Series([0.01, -0.02, 0.005], index=idx[:3]),
        "a missing return": pd.Series(np.r_[noisy[:60], np.nan, noisy[61:]], index=idx),
        "one return left after NaNs": pd.Series([np.nan, 0.01], index=idx[:2]),
        "gains only": pd.Series(np.abs(noisy[:40]), index=idx[:40]),
        "losses only": pd.Series(-np.abs(noisy[:40]), index=idx[:40]),
        "ruined (-100 %)": pd.Series([0.01, -1.0, 0.0, 0.02], index=idx[:4]),
        "empty": pd.Series([], index=idx[:0], dtype="float64"),
    }


@pytest.mark.parametrize("case", list(edge_series()))
@pytest.mark.parametrize("benchmark", ["none", "noisy", "flat"])
def test_perf_stats_match_pyfolio_on_edge_cases(case, benchmark):
    import pyfolio.timeseries as ts

    rets = edge_series()[case]
    rng = np.random.default_rng(4)
    bench = {
        "none": None,
        "noisy": pd.Series(rng.normal(0.0003, 0.01, len(rets)), index=rets.index),
        "flat": pd.Series(0.0, index=rets.index),  # zero variance: beta and alpha are NaN
    }[benchmark]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy and numpy warn about the degenerate cases
        expected = ts.perf_stats(rets, factor_returns=bench)
        got = pp.perf_stats(rets, bench)
    assert got.index.tolist() == expected.index.tolist()
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(dtype="float64"), equal_nan=True, **TOL)


def test_each_stat_matches_empyrical_and_scipy():
    import empyrical as ep
    from scipy import stats

    rets, bench = seeded(n=400, seed=8)
    pairs = {
        pp.annual_return: ep.annual_return,
        pp.cum_returns_final: ep.cum_returns_final,
        pp.annual_volatility: ep.annual_volatility,
        pp.sharpe_ratio: ep.sharpe_ratio,
        pp.calmar_ratio: ep.calmar_ratio,
        pp.stability_of_timeseries: ep.stability_of_timeseries,
        pp.max_drawdown: ep.max_drawdown,
        pp.omega_ratio: ep.omega_ratio,
        pp.sortino_ratio: ep.sortino_ratio,
        pp.skew: stats.skew,
        pp.kurtosis: stats.kurtosis,
        pp.tail_ratio: ep.tail_ratio,
    }
    for ours, theirs in pairs.items():
        np.testing.assert_allclose(ours(rets), theirs(rets), err_msg=ours.__name__, **TOL)
    np.testing.assert_allclose(pp.alpha(rets, bench), ep.alpha(rets, bench), **TOL)
    np.testing.assert_allclose(pp.beta(rets, bench), ep.beta(rets, bench), **TOL)
    # a benchmark on other dates is aligned on the union of both, as empyrical does
    shifted = bench.iloc[20:]
    np.testing.assert_allclose(pp.beta(rets, shifted), ep.beta(rets, shifted), **TOL)
    np.testing.assert_allclose(pp.alpha(rets, shifted), ep.alpha(rets, shifted), **TOL)
    with_nan = rets.copy()
    with_nan.iloc[[3, 50]] = np.nan
    for start in (1.0, 0.0, 100.0):
        assert_series_equal(pp.cum_returns(with_nan, start), ep.cum_returns(with_nan, start))


def test_heatmap_values_sit_on_their_cells():
    rets, bench = seeded(n=700, seed=3)
    data = pp.tear_sheet_data(rets, bench)
    fig = pp.draw_returns_tear_sheet(data)
    fig.canvas.draw()
    heat = next(ax for ax in fig.axes if ax.get_title() == "Monthly returns (%)")
    table = data["monthly_table"].fillna(0) * 100.0
    columns = [t for t in heat.texts if isinstance(t, pp._artist_classes()["RowSpacedText"])]
    assert len(columns) == table.shape[1]
    renderer = fig.canvas.get_renderer()
    for j, text in enumerate(columns):
        assert text.get_text().split("\n") == [f"{v:.1f}" for v in table.iloc[:, j]]
        box = text.get_window_extent(renderer)
        # one line per row: the block is as tall as the axes and centred on it
        assert box.height == pytest.approx(heat.bbox.height, abs=1.0)
        assert (box.y0 + box.y1) / 2 == pytest.approx((heat.bbox.y0 + heat.bbox.y1) / 2, abs=1.0)
        centre = heat.transData.transform((j, 0))[0]
        assert (box.x0 + box.x1) / 2 == pytest.approx(centre, abs=1.0)


SEABORN_LIKE = {  # what importing QuantStats does to rcParams (seaborn's style)
    "axes.axisbelow": True,
    "axes.grid": True,
    "axes.edgecolor": "white",
    "grid.color": "#dddddd",
    "grid.linewidth": 0.5,
    "xtick.bottom": False,
    "ytick.left": False,
    "xtick.color": "#666666",
    "ytick.color": "#666666",
    "xtick.major.size": 6.0,
    "ytick.major.size": 6.0,
}


@pytest.mark.parametrize("style", ["default", "seaborn-like"])
@pytest.mark.parametrize("y_ticks", ["located", "fixed"])
def test_fixed_ticks_draw_the_pixels_of_matplotlibs_ticks(y_ticks, style):
    import matplotlib

    with matplotlib.rc_context(SEABORN_LIKE if style == "seaborn-like" else {}):
        mine, theirs = _draw_ticks(True, y_ticks), _draw_ticks(False, y_ticks)
    assert (theirs[..., :3] < 128).any()
    assert np.array_equal(mine, theirs)


def _draw_ticks(own: bool, y_ticks: str) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter, NullLocator

    locs, labels = np.array([1.0, 3.0, 5.5]), ["1996", "1998", "2000"]
    years = ["2001", "2000", "1999"]
    fig = Figure(figsize=(4, 2), dpi=60)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([0, 6], [-0.13, 2.71])
    ax.yaxis.grid(True, alpha=0.3)
    ax.tick_params(axis="y", labelsize=7)
    ax.yaxis.set_major_formatter(FuncFormatter(pp._two_dec))
    ax.set_ylabel("Cumulative returns", fontsize=8)
    ax.set_xlim(0, 6)
    if own:
        ax.xaxis.set_major_locator(NullLocator())
        pp._fixed_x_ticks(ax, locs, labels, fontsize=7)
        if y_ticks == "located":
            pp._freeze_y_ticks(ax, fontsize=7)
        else:
            pp._freeze_y_ticks(ax, fontsize=7, locs=[0, 1, 2], labels=years)
    else:
        ax.xaxis.set_major_locator(FixedLocator(locs.tolist()))
        ax.xaxis.set_major_formatter(FixedFormatter(labels))
        ax.xaxis.grid(True, alpha=0.3)
        ax.tick_params(axis="x", labelsize=7)
        if y_ticks == "fixed":
            ax.set_yticks([0, 1, 2], years)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def test_string_renderer_puts_text_within_a_pixel_of_matplotlibs():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def centroid(fig) -> np.ndarray:
        fig.text(0.5, 0.5, "Cumulative returns 1996 -12.3", fontsize=7, ha="center", va="center")
        fig.text(0.2, 0.2, "Year", fontsize=8, rotation=90)  # rotated: matplotlib's own path
        fig.canvas.draw()
        ink = 255.0 - np.asarray(fig.canvas.buffer_rgba())[..., 0]
        ys, xs = np.nonzero(ink)
        w = ink[ys, xs]
        return np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum(), w.sum()])

    plain = Figure(figsize=(4, 2), dpi=60)
    FigureCanvasAgg(plain)
    ours = pp._agg_figure((4, 2))
    ours.set_dpi(60)
    a, b = centroid(ours), centroid(plain)
    assert abs(a[0] - b[0]) < 1.0 and abs(a[1] - b[1]) < 1.0
    assert a[2] == pytest.approx(b[2], rel=0.05)  # the same amount of ink


SCRIPT = """
import json, sys
import numpy as np, pandas as pd
from autostock.reports.tearsheet import pyfolio_outputs, pyfolio_png_page
rng = np.random.default_rng(2)
idx = pd.bdate_range("2018-01-01", periods=300, tz="UTC")
rets = pd.Series(rng.normal(0.0003, 0.01, 300), index=idx, name="return")
bench = pd.Series(rng.normal(0.0003, 0.01, 300), index=idx.tz_localize(None), name="SPY")
pf = {
    "returns": rets,
    "positions": pd.DataFrame({"AAA": 1.0, "cash": 0.0}, index=idx),
    "transactions": pd.DataFrame({"amount": [1], "price": [10.0], "sid": [0], "symbol": ["AAA"], "value": [-10.0]},
                                 index=idx[:1]),
    "gross_lev": pd.Series(1.0, index=idx),
}
written = pyfolio_outputs(pf, bench, sys.argv[1])
unwanted = ("pyfolio", "seaborn", "empyrical", "scipy", "quantstats", "matplotlib")
imported = sorted(m for m in unwanted if m in sys.modules)
png = pyfolio_png_page(pf, bench, sys.argv[1])  # the opt-in PNG: matplotlib, still not pyplot
print(json.dumps({"written": [p.name for p in written], "imported": imported, "png": png.name,
                  "png_imported": sorted(m for m in unwanted + ("matplotlib.pyplot",) if m in sys.modules)}))
"""


def test_pyfolio_outputs_write_the_page_and_stats_without_importing_pyfolio_empyrical_scipy_or_matplotlib(tmp_path):
    import pyfolio.timeseries as ts

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=root,
        env={**{k: v for k, v in os.environ.items() if k != "MPLBACKEND"}, "PYTHONPATH": str(root)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["imported"] == []
    assert report["png"] == "returns_tear_sheet.png" and report["png_imported"] == ["matplotlib"]
    assert set(report["written"]) == {
        "returns.csv",
        "positions.csv",
        "transactions.csv",
        "gross_lev.csv",
        "returns_tear_sheet.html",
        "perf_stats.csv",
        "drawdowns.csv",
    }
    png = (tmp_path / "returns_tear_sheet.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    rets = pd.read_csv(tmp_path / "returns.csv", index_col=0, parse_dates=True).iloc[:, 0]
    rng = np.random.default_rng(2)
    rng.normal(0.0003, 0.01, 300)  # the script's returns, then its benchmark
    bench = pd.Series(rng.normal(0.0003, 0.01, 300), index=rets.index)
    stats = pd.read_csv(tmp_path / "perf_stats.csv", index_col="stat")["Backtest"]
    expected = ts.perf_stats(rets, factor_returns=bench)
    assert stats.index.tolist() == expected.index.tolist()
    np.testing.assert_allclose(stats.to_numpy(), expected.to_numpy(dtype="float64"), rtol=1e-9)
    drawdowns = pd.read_csv(tmp_path / "drawdowns.csv", index_col="rank")
    top = ts.gen_drawdown_table(rets, top=5).dropna(how="all")
    assert drawdowns["Peak date"].tolist() == top["Peak date"].dt.strftime("%Y-%m-%d").tolist()


@pytest.mark.parametrize("freq", ["B", "90min"])
def test_pyfolio_csvs_are_the_bytes_to_csv_writes(tmp_path, freq):
    from autostock.reports.tearsheet import _with_shared_date_labels

    idx = pd.date_range("2019-12-30 09:30", periods=40, freq=freq, tz="UTC", name="index")
    rng = np.random.default_rng(1)
    frames = [
        pd.Series(rng.normal(0, 0.01, 40), index=idx, name="return"),
        pd.DataFrame({"AAA": rng.normal(size=40), "cash": 1e5}, index=idx.rename("Datetime")),
        pd.DataFrame({"amount": [3], "price": [1.5]}, index=idx[:1]),  # other dates: left alone
        pd.Series(1.0, index=idx, name="gross_lev"),
    ]
    for frame, shared in zip(frames, _with_shared_date_labels(frames), strict=True):
        assert shared.to_csv() == frame.to_csv()
