"""Metric definitions: bar frequency, per-trade win rate and profit factor, exposure, benchmark label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import quantstats as qs

from autostock.feeds.market import Market
from autostock.reports.metrics import (
    EQUAL_WEIGHT_NAME,
    benchmark_returns,
    compute_metrics,
    periods_per_year,
)


def test_bar_frequency_is_detected_from_the_index():
    assert periods_per_year(pd.bdate_range("2020-01-01", periods=300)) == 252
    assert periods_per_year(pd.date_range("2020-01-03", periods=100, freq="W-FRI")) == 52
    assert periods_per_year(pd.date_range("2020-01-31", periods=36, freq="ME")) == 12
    days = pd.bdate_range("2020-01-02", periods=20)
    five_min = pd.DatetimeIndex(
        [d + pd.Timedelta(hours=9, minutes=35) + pd.Timedelta(minutes=5 * k) for d in days for k in range(78)]
    )
    assert periods_per_year(five_min) == 252 * 78
    for unit in ("s", "ms", "us"):  # pandas keeps a CSV's or Parquet's time unit
        assert periods_per_year(five_min.as_unit(unit).tz_localize("America/New_York")) == 252 * 78
        assert periods_per_year(pd.date_range("2020-01-03", periods=100, freq="W-FRI").as_unit(unit)) == 52
    assert periods_per_year(pd.date_range("2000-01-01", periods=30, freq="QE")) == 4


def test_intraday_returns_are_annualised_by_bars_not_days():
    # a steady 2.5 % over one month of 5-minute bars: the CAGR is that of 2.5 % a month, not of 2.5 % in 4 years
    days = pd.bdate_range("2020-01-02", periods=21)
    index = pd.DatetimeIndex(
        [d + pd.Timedelta(hours=9, minutes=35) + pd.Timedelta(minutes=5 * k) for d in days for k in range(78)]
    )
    r = pd.Series((1.025 ** (1 / len(index))) - 1, index=index)
    m = compute_metrics(r, None)
    assert m["periods_per_year"] == 252 * 78
    assert m["cagr"] == pytest.approx(1.025 ** (252 / 21) - 1, rel=1e-9)
    assert compute_metrics(r, None, periods=252)["cagr"] < 0.01  # what treating each bar as a day reports


def test_win_rate_and_profit_factor_are_per_trade_and_the_daily_ones_are_named_so():
    rng = np.random.default_rng(1)
    r = pd.Series(rng.normal(0.0005, 0.01, 300), index=pd.bdate_range("2020-01-01", periods=300))
    r.iloc[::3] = 0.0
    trades = pd.DataFrame({"pnl_after_costs": [100.0, -50.0, 30.0, -20.0, 10.0]})
    m = compute_metrics(r, None, trades)
    assert m["n_trades"] == 5
    assert m["win_rate"] == pytest.approx(0.6)
    assert m["profit_factor"] == pytest.approx(140.0 / 70.0)
    assert m["daily_win_rate"] == pytest.approx(qs.stats.win_rate(r))
    assert m["daily_profit_factor"] == pytest.approx(qs.stats.profit_factor(r))
    assert m["exposure"] == pytest.approx(200 / 300)  # 0.6667, where QuantStats reports 0.67
    assert qs.stats.exposure(r) == pytest.approx(0.67)
    assert compute_metrics(r, None)["win_rate"] is None  # no trades: no per-trade win rate


def test_the_equal_weight_fallback_benchmark_is_named_what_it_is():
    idx = pd.bdate_range("2020-01-01", periods=10)
    bars = {
        s: pd.DataFrame({"open": p, "high": p, "low": p, "close": p, "volume": 1.0}, index=idx)
        for s, p in (("A", np.linspace(10, 11, 10)), ("B", np.linspace(20, 19, 10)))
    }
    bench = benchmark_returns(Market(bars, "test"), idx)
    assert bench.name == EQUAL_WEIGHT_NAME == "EQUAL_WEIGHT_BASKET"
    expected = ((bars["A"]["close"] / 10 + bars["B"]["close"] / 20) / 2).pct_change().fillna(0.0)
    np.testing.assert_allclose(bench.to_numpy(), expected.to_numpy())
    spy = pd.Series(np.linspace(300, 310, 10), index=idx)
    assert benchmark_returns(Market(bars, "test", spy, "SPY"), idx).name == "SPY"


def test_a_folder_mixing_daily_and_five_minute_files_is_refused_naming_the_files(tmp_path):
    from autostock.errors import DataError
    from autostock.feeds import load_market

    def write(name: str, index: pd.DatetimeIndex) -> None:
        p = np.linspace(100, 110, len(index))
        pd.DataFrame({"Date": index, "Open": p, "High": p + 1, "Low": p - 1, "Close": p, "Volume": 1000.0}).to_csv(
            tmp_path / name, index=False
        )

    write("DAY.csv", pd.bdate_range("2020-01-02", periods=40))
    days = pd.bdate_range("2020-01-02", periods=3)
    write(
        "MIN.csv",
        pd.DatetimeIndex(
            [d + pd.Timedelta(hours=9, minutes=35) + pd.Timedelta(minutes=5 * k) for d in days for k in range(78)]
        ),
    )
    with pytest.raises(DataError, match=r"different frequencies.*DAY\.csv \(252 bars/year\).*MIN\.csv \(19656"):
        load_market(str(tmp_path))
    assert load_market(str(tmp_path), ["DAY"]).symbols == ["DAY"]  # one frequency per run is fine


def test_the_tearsheet_cagr_is_the_summary_cagr_even_when_the_first_trade_comes_late(tmp_path):
    import re

    from autostock.reports.tearsheet import quantstats_html

    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2018-01-01", periods=600)
    r = pd.Series(rng.normal(0.0004, 0.01, 600), index=idx)
    r.iloc[:40] = 0.0  # flat until the first trade
    bench = pd.Series(rng.normal(0.0003, 0.01, 600), index=idx)
    html = quantstats_html(r, bench, tmp_path / "t.html", "t").read_text()
    row = re.search(r"<td>CAGR[^<]*</td><td>([^<]+)</td><td>([^<]+)</td>", html)
    strategy_cagr = float(row.group(2).rstrip("%")) / 100
    assert strategy_cagr == pytest.approx(compute_metrics(r, bench)["cagr"], abs=5e-5)
