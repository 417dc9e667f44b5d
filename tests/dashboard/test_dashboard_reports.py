"""Readers of the report folders: run discovery, monthly returns, optimisation surface, filters."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autostock.dashboard import reports as rep


def test_monthly_returns_compound_each_month_and_leave_months_without_bars_empty():
    idx = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-03-01"])
    r = pd.Series([0.10, -0.05, 0.02], index=idx)
    table = rep.monthly_returns(r)
    assert table.loc[2024, "Jan"] == pytest.approx(1.10 * 0.95 - 1)
    assert np.isnan(table.loc[2024, "Feb"]) and np.isnan(table.loc[2024, "Dec"])
    assert table.loc[2024, "Mar"] == pytest.approx(0.02)
    assert table.loc[2024, "Year"] == pytest.approx(1.10 * 0.95 * 1.02 - 1)


def test_surface_is_the_best_objective_per_cell_and_empty_where_nothing_ran():
    trials = pd.DataFrame(
        {
            "fast": [5, 5, 10, 5],
            "slow": [20, 30, 20, 20],
            "other": [1, 1, 1, 2],
            "objective": [0.5, 0.7, 0.9, 0.6],
            "status": ["ok", "ok", "ok", "ok"],
        }
    )
    trials.loc[len(trials)] = {"fast": 10, "slow": 30, "other": 1, "objective": 9.9, "status": "error"}
    grid = rep.surface(trials, "fast", "slow")
    assert grid.loc[20, 5] == 0.6 and grid.loc[30, 5] == 0.7 and grid.loc[20, 10] == 0.9
    assert np.isnan(grid.loc[30, 10])  # the only trial there failed: no value, not 9.9


def test_filter_trades_by_symbol_direction_and_outcome():
    trades = pd.DataFrame(
        {"symbol": ["A", "A", "B"], "direction": ["long", "short", "long"], "pnl_after_costs": [5.0, -1.0, 0.0]}
    )
    assert rep.filter_trades(trades, ["A"], "long", None)["pnl_after_costs"].tolist() == [5.0]
    assert rep.filter_trades(trades, None, "all", "loss")["pnl_after_costs"].tolist() == [-1.0, 0.0]


def test_discover_runs_reports_an_unreadable_summary_instead_of_dropping_it(tmp_path):
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "optimize.json").write_text(
        json.dumps({"settings": {"strategy": "x", "grid": {}}, "best": {"params": {"a": 1}, "metrics": {}}})
    )
    (tmp_path / "deep" / "broken").mkdir(parents=True)
    (tmp_path / "deep" / "broken" / "summary.json").write_text("{not json")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.json").write_text("{}")
    runs = {r.name: r for r in rep.discover_runs(tmp_path)}
    assert set(runs) == {"ok", "broken"}
    assert runs["ok"].kind == "optimize" and runs["ok"].params == {"a": 1}
    assert runs["broken"].kind == "backtest" and runs["broken"].problem.startswith("cannot read summary.json")
    table = rep.runs_table(list(runs.values()), tmp_path)
    assert set(table["run"]) == {"ok", "deep/broken"}


def test_discover_runs_of_a_missing_folder_is_empty(tmp_path):
    assert rep.discover_runs(tmp_path / "none") == []


def test_trade_markers_are_the_completed_orders_at_their_fill(tmp_path):
    orders = pd.DataFrame(
        {
            "executed": pd.to_datetime(["2024-01-03", None]),
            "symbol": ["A", "A"],
            "side": ["buy", "sell"],
            "exec_price": [10.0, None],
            "exec_size": [5, None],
            "status": ["Completed", "Canceled"],
        }
    )
    m = rep.trade_markers(orders)
    assert m.to_dict("records") == [
        {"date": pd.Timestamp("2024-01-03"), "symbol": "A", "side": "buy", "price": 10.0, "size": 5}
    ]


def test_a_walk_forward_run_spans_its_first_in_sample_to_its_last_out_of_sample_date(reports_root):
    wf = next(r for r in rep.discover_runs(reports_root) if r.kind == "walkforward")
    folds = json.loads((reports_root / "wf" / "walkforward.json").read_text())["folds"]
    assert (wf.start, wf.end) == (folds[0]["train_start"], folds[-1]["test_end"])
