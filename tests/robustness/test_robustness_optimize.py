"""Parameter search: grid parsing, trial selection, best params, overfitting statistics."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from autostock.engine import run_backtest
from autostock.errors import ConfigError
from autostock.robustness.executor import Executor
from autostock.robustness.optimize import (
    grid_trials,
    optimize,
    parse_grid,
    random_trials,
    write_optimize,
)


def test_parse_grid_ranges_lists_and_types():
    g = parse_grid(["fast=5:20:5", "slow=30,60", "k=0.5:1.0:0.25", "n=3:5", "flag=true,false"])
    assert g == {
        "fast": [5, 10, 15, 20],
        "slow": [30, 60],
        "k": [0.5, 0.75, 1.0],
        "n": [3, 4, 5],
        "flag": [True, False],
    }
    assert len(grid_trials(g)) == 4 * 2 * 3 * 3 * 2


@pytest.mark.parametrize(
    "bad, match",
    [
        ("fast", "expected name="),
        ("fast=1:2:3:4", "start:stop"),
        ("fast=9:1", "stop >= start"),
        ("fast=1:x", "not a number"),
        ("fast=1:5:0", "step > 0"),
    ],
)
def test_parse_grid_rejects_bad_specs_naming_them(bad, match):
    with pytest.raises(ConfigError, match=match):
        parse_grid([bad])


def test_random_trials_are_distinct_seeded_and_from_the_grid():
    g = parse_grid(["a=1:10", "b=1:10"])
    t1, t2 = random_trials(g, 20, seed=4), random_trials(g, 20, seed=4)
    assert t1 == t2 and len({tuple(t.values()) for t in t1}) == 20
    assert all(t in grid_trials(g) for t in t1)
    assert random_trials(g, 20, seed=5) != t1
    assert len(random_trials(g, 500, seed=1)) == 100  # never more than the grid


def test_grid_search_picks_the_best_objective_and_reports_overfitting_stats(two_symbol_market, sma_spec, tmp_path):
    grid = parse_grid(["fast=5,10,40", "slow=20,30"])
    with Executor(2, progress=False) as ex:
        result = optimize(sma_spec, two_symbol_market, grid, objective="sharpe", executor=ex)
    table = result.table
    assert len(table) == 6
    # fast=40 >= slow is rejected by the strategy and recorded, not fatal
    invalid = table[table["status"] != "ok"]
    assert set(invalid["fast"]) == {40} and invalid["status"].str.contains("fast < slow").all()
    valid = table[table["status"] == "ok"]
    top = valid.loc[valid["objective"].astype(float).idxmax()]
    assert result.best["params"] == {"fast": int(top["fast"]), "slow": int(top["slow"])}
    # the objective is the foundation's metric of the same run
    direct = run_backtest(sma_spec.replace(params=result.best["params"]), two_symbol_market)
    assert result.best["objective"] == pytest.approx(direct.metrics["sharpe"], rel=1e-12)
    assert result.deflated_sharpe["n_trials"] == 4 and 0 <= result.deflated_sharpe["dsr"] <= 1
    assert result.pbo["n_trials"] == 4 and 0 <= result.pbo["pbo"] <= 1
    files = write_optimize(result, tmp_path)
    saved = json.loads(files["json"].read_text())
    assert saved["best"]["params"] == result.best["params"] and "pbo" in saved and "deflated_sharpe" in saved
    assert len(pd.read_csv(files["csv"])) == 6
    assert files["heatmap"].read_bytes()[:4] == b"\x89PNG"


def test_optuna_search_is_reproducible_for_a_seed(two_symbol_market, sma_spec):
    grid = parse_grid(["fast=3:9:2", "slow=15:35:10"])
    runs = [
        optimize(
            sma_spec, two_symbol_market, grid, method="optuna", trials=5, seed=11, executor=Executor(1, progress=False)
        )
        for _ in range(2)
    ]
    cols = ["fast", "slow", "objective"]
    pd.testing.assert_frame_equal(runs[0].table[cols], runs[1].table[cols])
    assert runs[0].best == runs[1].best and len(runs[0].table) <= 5


def test_unknown_objective_and_all_invalid_trials_are_user_errors(two_symbol_market, sma_spec):
    with pytest.raises(ConfigError, match="objective"):
        optimize(sma_spec, two_symbol_market, {"fast": [5]}, objective="alpha", executor=Executor(1, progress=False))
    with pytest.raises(ConfigError, match="every trial was rejected"):
        optimize(sma_spec, two_symbol_market, {"fast": [50]}, executor=Executor(1, progress=False))
    with pytest.raises(
        ConfigError, match=r"every trial was rejected; first: unknown strategy 'sma_cross' param\(s\) nope"
    ):
        optimize(sma_spec, two_symbol_market, {"nope": [1]}, executor=Executor(1, progress=False))


def test_optimize_saves_the_trial_returns_so_dsr_pbo_and_the_verdict_can_be_recomputed(
    two_symbol_market, sma_spec, tmp_path
):
    import numpy as np

    from autostock.robustness.stats import (
        deflated_sharpe_from_returns,
        overfitting_verdict,
        probability_of_backtest_overfitting,
        sharpe_per_period,
    )

    grid = parse_grid(["fast=3,5,8", "slow=20,30"])
    with Executor(1, progress=False) as ex:
        result = optimize(sma_spec, two_symbol_market, grid, objective="sharpe", executor=ex, n_splits=8)
    files = write_optimize(result, tmp_path)
    saved = json.loads(files["json"].read_text())
    matrix = pd.read_csv(files["trial_returns"], index_col="date", parse_dates=True)
    assert list(matrix.columns) == [f"trial_{i}" for i in range(6)]
    assert saved["n_trials_in_statistics"] == 6 and saved["trial_returns_file"] == "trial_returns.csv"
    sharpes = np.array([sharpe_per_period(matrix[c].to_numpy()) for c in matrix.columns])
    best = f"trial_{result.best['trial']}"
    dsr = deflated_sharpe_from_returns(matrix[best].to_numpy(), sharpes)
    pbo = probability_of_backtest_overfitting(matrix.to_numpy(), 8)
    assert dsr.dsr == pytest.approx(saved["deflated_sharpe"]["dsr"], rel=1e-8)
    assert pbo.pbo == pytest.approx(saved["pbo"]["pbo"], rel=1e-12)
    again = overfitting_verdict(dsr.dsr, pbo.pbo, 6)
    assert (saved["verdict"]["text"], saved["verdict"]["skill"]) == (again.text, again.skill)
    assert saved["verdict"]["text"].split(":")[0] in ("no evidence of skill", "evidence of skill", "likely overfit")


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_optimizing_a_strategy_on_a_pure_random_walk_never_reads_as_skill(seed):
    from autostock.config import RunSpec
    from tests.null_markets import walk_market

    market = walk_market(seed, n=600)
    spec = RunSpec(strategy="sma_cross", params={"fast": 5, "slow": 20})
    grid = parse_grid(["fast=3,5,8,12", "slow=20,40,60"])
    with Executor(1, progress=False) as ex:
        result = optimize(spec, market, grid, objective="sharpe", executor=ex)
    assert result.deflated_sharpe["n_trials"] == 12
    assert result.verdict["skill"] is False, result.verdict["text"]
