"""Null tests: on pure random walks no ML path shows skill; a planted causal signal is still found.

Every way ``ml_signal`` and ``ensemble`` can serve a model (a predictor name trained before the
run, a trained directory's out-of-sample predictions, the saved predictor on later bars, tuned
params) either refuses or shows |Sharpe| < 1.2 on three seeded random walks of 2000 bars (a
strategy with no skill has an annualised Sharpe standard error of about sqrt(252 / n) = 0.35,
so 1.2 is more than three of them). Tiny scikit-learn models keep it to seconds.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.errors import ConfigError
from autostock.models.artifacts import load_artifacts
from autostock.models.evaluation import aligned, metrics_from_frame
from autostock.models.targets import parse_target
from autostock.models.training import symbol_data, train
from autostock.models.tuning import tune
from autostock.models.walkforward import parse_walk_forward
from tests.null_markets import walk_market

FEATURES = "ret_1,ret_5,ret_20,ret_1_lag_1,ret_1_lag_2"
WALK = "train=250,test=250"
LIMIT = 1.2


@pytest.fixture(scope="module", params=[101, 102, 103])
def walk(request):
    return walk_market(request.param, n=2000)


def sharpe_of(result) -> float:
    """The run's annualised Sharpe; a book that never moved (no trade) has Sharpe 0."""
    if float(result.returns.std()) == 0.0:
        return 0.0
    return float(result.metrics["sharpe"])


def sharpe(params: dict, market, strategy: str = "ml_signal") -> float:
    return sharpe_of(run_backtest(RunSpec(strategy=strategy, params=params, symbols=["RW"]), market))


def test_every_ml_serving_mode_refuses_or_shows_no_skill_on_a_random_walk(walk, tmp_path):
    folder = tmp_path / "ridge"
    train(walk, "ridge", "fwd_return_5", FEATURES, parse_walk_forward(WALK), out=folder)
    early = tmp_path / "early"  # the saved predictor of a model trained on the first 500 bars only
    train(walk.slice(None, walk.dates()[499]), "ridge", "fwd_return_5", FEATURES, parse_walk_forward(WALK), out=early)
    after = walk.slice(load_artifacts(early).training_window("RW").label_end + pd.Timedelta(days=1), None)
    assert len(after.dates()) > 1400
    members = json.dumps(
        [
            {"name": "ml_signal", "params": {"model": str(folder)}},
            {
                "name": "ml_signal",
                "params": {"model": "logistic", "features": FEATURES, "walk_forward": WALK, "target": "direction_5"},
            },
            {"name": "ml_signal", "params": {"model": str(folder), "long_threshold": 0.001}},
        ]
    )
    runs = {
        "predictor name": sharpe({"model": "ridge", "features": FEATURES, "walk_forward": WALK}, walk),
        "predictor name, direction": sharpe(
            {"model": "logistic", "features": FEATURES, "walk_forward": WALK, "target": "direction_5"}, walk
        ),
        "trained directory": sharpe({"model": str(folder)}, walk),
        "trained directory, long/short": sharpe({"model": str(folder), "allow_short": True}, walk),
        "saved predictor on later bars": sharpe({"model": str(early), "serve": "model"}, after),
        "ensemble": sharpe({"members": members}, walk, "ensemble"),
    }
    assert all(abs(s) < LIMIT for s in runs.values()), runs
    # the saved predictor over its own training bars is refused, alone or as an ensemble member
    with pytest.raises(ConfigError, match="in-sample"):
        sharpe({"model": str(folder), "serve": "model"}, walk)
    with pytest.raises(ConfigError, match="in-sample"):
        sharpe({"members": f"ml_signal:model={folder},serve=model"}, walk, "ensemble")


def test_tuned_params_show_no_skill_on_a_random_walk_and_an_overlap_is_flagged(walk, tmp_path):
    target = parse_target("fwd_return_5")
    prepared, _ = symbol_data(walk.slice(None, walk.dates()[999]), FEATURES, target)
    _, best = tune(
        "ridge",
        prepared,
        target,
        {"alpha": "0.01|1|100|10000"},
        "grid",
        n_splits=3,
        out=tmp_path / "tune",
        progress=False,
    )
    tuned_on = json.loads((tmp_path / "tune" / "best_params.json").read_text())["tuned_on"]
    result = train(
        walk, "ridge", target, FEATURES, parse_walk_forward(WALK), best, out=tmp_path / "m", tuned_on=tuned_on
    )
    assert result.metrics["tuned_on_overlap"] is True
    backtest = run_backtest(RunSpec(strategy="ml_signal", params={"model": str(tmp_path / "m")}, symbols=["RW"]), walk)
    assert backtest.metrics["tuned_on_overlap"] is True
    assert abs(sharpe_of(backtest)) < LIMIT


@pytest.mark.parametrize("seed", [101, 102, 103])
def test_a_planted_causal_signal_is_still_found_out_of_sample(seed):
    # returns with lag-1 autocorrelation 0.25: tomorrow's sign is predictable from today's return
    market = walk_market(seed, n=2000, phi=0.25)
    target = parse_target("fwd_return_1")
    result = train(market, "ridge", target, "ret_1,ret_1_lag_1", parse_walk_forward("train=250,test=250"))
    metrics = metrics_from_frame(aligned(result.predictions["RW"], market.bars["RW"]["close"], target), target)
    assert metrics["model"]["directional_accuracy"] > 0.55
    assert metrics["model"]["n"] >= 1700
