"""Monte Carlo runs: identical paths.csv for every executor, bounded curve sample, summary maths."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autostock.engine import run_backtest
from autostock.errors import ConfigError
from autostock.robustness.executor import Executor
from autostock.robustness.montecarlo import run_montecarlo, summarize, write_montecarlo
from autostock.robustness.resample import resample_market


@pytest.fixture(scope="module")
def dask_address():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    yield cluster.scheduler_address
    cluster.close()


def test_pool_and_dask_write_identical_paths_csv(two_symbol_market, sma_spec, tmp_path, dask_address):
    texts = []
    for name, executor in (
        ("pool", Executor(2, progress=False)),
        ("dask", Executor(dask=dask_address, progress=False)),
    ):
        with executor:
            result = run_montecarlo(sma_spec, two_symbol_market, paths=4, block=10, seed=3, sample=2, executor=executor)
        files = write_montecarlo(result, tmp_path / name)
        texts.append(files["paths"].read_text())
    assert texts[0] == texts[1]
    table = pd.read_csv(tmp_path / "pool" / "paths.csv")
    assert list(table["path"]) == [0, 1, 2, 3]
    assert table["final_value"].nunique() == 4  # four different histories


def test_path_metrics_are_the_backtest_of_the_resampled_market(two_symbol_market, sma_spec):
    result = run_montecarlo(
        sma_spec, two_symbol_market, paths=2, block=10, seed=3, sample=1, executor=Executor(1, progress=False)
    )
    direct = run_backtest(sma_spec, resample_market(two_symbol_market, block=10, seed=3, path=1))
    row = result.table.iloc[1]
    assert row["final_value"] == pytest.approx(direct.final_value, rel=1e-12)
    assert row["sharpe"] == pytest.approx(direct.metrics["sharpe"], rel=1e-12)
    assert list(result.curves) == [0]  # only the bounded sample keeps equity curves
    assert len(result.curves[0]) == len(result.dates)
    assert result.historical["final_value"] == pytest.approx(run_backtest(sma_spec, two_symbol_market).final_value)


def test_outputs_hold_percentiles_probabilities_and_charts(two_symbol_market, sma_spec, tmp_path):
    result = run_montecarlo(
        sma_spec, two_symbol_market, paths=5, block=5, seed=1, sample=3, executor=Executor(1, progress=False)
    )
    files = write_montecarlo(result, tmp_path, dd_limit=0.1)
    summary = json.loads(files["json"].read_text())
    finals = result.table["final_value"].to_numpy()
    assert summary["percentiles"]["final_value"]["p50"] == pytest.approx(np.median(finals))
    assert summary["probability_of_loss"] == pytest.approx(np.mean(finals < sma_spec.cash))
    assert summary["probability_drawdown_exceeds_limit"] == pytest.approx(
        np.mean(result.table["max_drawdown"].abs() > 0.1)
    )
    assert set(summary["percentiles"]) == {"cagr", "sharpe", "max_drawdown", "final_value"}
    assert summary["completed_paths"] == 5 and summary["interrupted"] is False
    for key in ("histograms", "fan"):
        assert files[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = files["html"].read_text()
    assert "Probability of loss" in html and "data:image/png;base64," in html


def test_summarize_by_hand():
    table = pd.DataFrame(
        {
            "cagr": [0.1, -0.2, 0.0, 0.3, None],
            "sharpe": [1.0, -1.0, 0.0, 2.0, 0.5],
            "max_drawdown": [-0.05, -0.30, -0.10, -0.25, -0.2],
            "final_value": [110.0, 80.0, 100.0, 130.0, 99.0],
        }
    )
    s = summarize(table, {"sharpe": 0.75, "final_value": 100.0}, cash=100.0, dd_limit=0.2)
    assert s["probability_of_loss"] == pytest.approx(2 / 5)  # 80 and 99
    assert s["probability_drawdown_exceeds_limit"] == pytest.approx(2 / 5)  # 0.30 and 0.25
    assert s["percentiles"]["cagr"]["p50"] == pytest.approx(0.05)  # median of 4 finite values
    assert s["historical_percentile"]["sharpe"] == pytest.approx(60.0)  # -1, 0, 0.5 <= 0.75
    with pytest.raises(ConfigError, match="drawdown limit"):
        summarize(table, {}, 100.0, 20)


def test_trade_shuffle_keeps_final_value_and_changes_drawdown(two_symbol_market, sma_spec):
    result = run_montecarlo(
        sma_spec,
        two_symbol_market,
        paths=6,
        seed=2,
        mode="trades",
        trade_method="shuffle",
        executor=Executor(1, progress=False),
    )
    assert np.allclose(result.table["final_value"], result.historical["final_value"])
    assert result.table["max_drawdown"].nunique() > 1
    boot = run_montecarlo(
        sma_spec,
        two_symbol_market,
        paths=6,
        seed=2,
        mode="trades",
        trade_method="bootstrap",
        executor=Executor(1, progress=False),
    )
    assert boot.table["final_value"].nunique() > 1


def test_trades_mode_states_it_books_closed_trades_and_reports_the_mark_to_market_drawdown(
    two_symbol_market, sma_spec, tmp_path
):
    result = run_montecarlo(
        sma_spec,
        two_symbol_market,
        paths=3,
        seed=2,
        mode="trades",
        trade_method="shuffle",
        executor=Executor(1, progress=False),
    )
    real = run_backtest(sma_spec, two_symbol_market).metrics["max_drawdown"]
    assert result.settings["measures"] == "closed trades only"
    assert result.settings["mark_to_market_max_drawdown"] == pytest.approx(real, rel=1e-12)
    assert result.settings["closed_trade_max_drawdown"] == pytest.approx(result.historical["max_drawdown"])
    # booking closed trades only can only hide the dips inside open trades
    assert result.settings["mark_to_market_max_drawdown"] <= result.settings["closed_trade_max_drawdown"]
    files = write_montecarlo(result, tmp_path)
    saved = json.loads(files["json"].read_text())
    assert saved["settings"]["mark_to_market_max_drawdown"] == pytest.approx(real, rel=1e-12)
    assert any(f"mark-to-market max drawdown is {real:.1%}" in n for n in saved["settings"]["notes"])


def test_bad_monte_carlo_settings_are_user_errors(two_symbol_market, sma_spec):
    for kwargs, match in (
        ({"paths": 0}, "^paths must be >= 1"),
        ({"mode": "prices"}, "mode"),
        ({"block": 0}, "^block must be >= 1"),
    ):
        with pytest.raises(ConfigError, match=match):
            run_montecarlo(sma_spec, two_symbol_market, executor=Executor(1, progress=False), **kwargs)
