"""The summary metrics are QuantStats' figures: each one against QuantStats itself, on many series."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import quantstats as qs

from autostock.reports.metrics import compute_metrics


def _series(kind: str, n: int = 400, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2015-01-01", periods=n)
    r = rng.normal(0.0004, 0.012, n)
    if kind == "flat_runs":  # a strategy that is out of the market much of the time
        r[rng.random(n) < 0.6] = 0.0
    elif kind == "first_loss":  # a loss on the very first bar, the worst drawdown: it starts from the initial equity
        r = rng.normal(0.002, 0.002, n)
        r[0] = -0.08
    elif kind == "crash":
        r[n // 2 : n // 2 + 20] = -0.05
    elif kind == "with_nan":
        r[[3, 50, 51]] = np.nan
    elif kind == "losing":
        r = r - 0.003
    return pd.Series(r, index=idx, name="returns")


def _quantstats(r: pd.Series, bench: pd.Series | None, pnl: pd.Series, periods: int) -> dict[str, float]:
    s = qs.stats
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = {
            "total_return": s.comp(r),
            "cagr": s.cagr(r, periods=periods),
            "volatility": s.volatility(r, periods=periods),
            "sharpe": s.sharpe(r, periods=periods),
            "sortino": s.sortino(r, periods=periods),
            "max_drawdown": s.max_drawdown(r),
            "calmar": s.calmar(r, periods=periods),
            "win_rate": s.win_rate(pnl, prepare_returns=False),
            "profit_factor": s.profit_factor(pnl, prepare_returns=False),
            "daily_win_rate": s.win_rate(r),
            "daily_profit_factor": s.profit_factor(r),
        }
        if bench is not None:
            g = s.greeks(r, bench, periods=periods)
            out["alpha"], out["beta"] = g["alpha"], g["beta"]
    return {k: float(v) for k, v in out.items()}


@pytest.mark.parametrize("kind", ["plain", "flat_runs", "first_loss", "crash", "with_nan", "losing"])
@pytest.mark.parametrize("with_bench", [True, False])
def test_every_metric_equals_quantstats(kind: str, with_bench: bool) -> None:
    r = _series(kind)
    bench = _series("plain", seed=7).rename("bench") * 0.7 + r.fillna(0) * 0.3 if with_bench else None
    pnl = pd.Series(np.random.default_rng(3).normal(50, 300, 25))
    mine = compute_metrics(r, bench, pd.DataFrame({"pnl_after_costs": pnl}), periods=252)
    theirs = _quantstats(r, bench, pnl, 252)
    for key, value in theirs.items():
        assert mine[key] == pytest.approx(value, rel=1e-12, abs=1e-14), key
    if not with_bench:
        assert mine["alpha"] is None and mine["beta"] is None


def test_intraday_periods_and_undefined_values() -> None:
    idx = pd.date_range("2021-03-01 09:35", periods=390, freq="5min")
    r = pd.Series(np.random.default_rng(5).normal(0, 0.001, 390), index=idx)
    mine = compute_metrics(r, None, periods=252 * 78)
    assert mine["sharpe"] == pytest.approx(float(qs.stats.sharpe(r, periods=252 * 78)), rel=1e-12)
    assert mine["cagr"] == pytest.approx(float(qs.stats.cagr(r, periods=252 * 78)), rel=1e-12)
    flat = pd.Series(0.0, index=pd.bdate_range("2020-01-01", periods=50))
    m = compute_metrics(flat, None, periods=252)
    # QuantStats: Sharpe 0/0 and Sortino with no downside are undefined; the summary says None
    assert m["sharpe"] is None and m["sortino"] is None and m["calmar"] is None
    assert m["total_return"] == 0.0 and m["max_drawdown"] == 0.0 and m["daily_win_rate"] == 0.0
    assert m["daily_profit_factor"] == float(qs.stats.profit_factor(flat)) == 0.0
    up = pd.Series(0.001, index=pd.bdate_range("2020-01-01", periods=50))
    assert compute_metrics(up, None, periods=252)["daily_profit_factor"] is None  # inf in QuantStats
    assert math.isinf(qs.stats.profit_factor(up))


def test_a_benchmark_on_other_dates_gets_quantstats_rebasing() -> None:
    r = _series("plain")
    bench = _series("plain", n=420, seed=9).shift(3, freq="D")
    mine = compute_metrics(r, bench, periods=252)
    g = qs.stats.greeks(r, bench, periods=252)
    assert mine["beta"] == pytest.approx(float(g["beta"]), rel=1e-12)
    assert mine["alpha"] == pytest.approx(float(g["alpha"]), rel=1e-12)


def test_computing_the_summary_metrics_imports_no_report_library() -> None:
    code = (
        "import sys, numpy as np, pandas as pd\n"
        "from autostock.reports.metrics import compute_metrics\n"
        "idx = pd.bdate_range('2020-01-01', periods=300)\n"
        "r = pd.Series(np.random.default_rng(0).normal(0, 0.01, 300), index=idx)\n"
        "compute_metrics(r, r * 0.5 + 0.001, pd.DataFrame({'pnl_after_costs': [1.0, -2.0]}))\n"
        "print(sorted(m for m in ('quantstats', 'seaborn', 'scipy', 'empyrical') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
