"""Tuning: purged CV splits, grid and Optuna search write the results CSV and best params."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from autostock.errors import ConfigError
from autostock.models.targets import parse_target
from autostock.models.tuning import parse_space, purged_splits, tune
from tests.models.ml_data import learnable


def _data():
    X, y = learnable(500)
    return {"SYN": (X, y)}


def test_purged_splits_keep_purge_plus_embargo_bars_between_train_and_validation():
    splits = purged_splits(500, horizon=5, n_splits=4, embargo=3)
    assert len(splits) == 4
    for train, val in splits:
        assert train.start == 0 and train.stop - 1 + 5 + 3 < val.start
    assert splits[-1][1].stop == 500


def test_grid_search_writes_one_csv_row_per_combination_and_the_best_params(tmp_path):
    table, best = tune(
        "ridge", _data(), parse_target("fwd_return_5"), {"alpha": "0.1|1000000"}, "grid", out=tmp_path, progress=False
    )
    csv = pd.read_csv(tmp_path / "tune_results.csv")
    assert len(csv) == 2 and {"alpha", "score", "ic", "directional_accuracy"} <= set(csv.columns)
    assert best["alpha"] == 0.1  # the signal is linear: heavy shrinkage must score worse
    saved = json.loads((tmp_path / "best_params.json").read_text())
    assert saved["params"] == best and saved["metric"] == "rmse"


def test_optuna_search_runs_the_requested_trials_and_saves_the_best(tmp_path):
    table, best = tune(
        "random_forest",
        _data(),
        parse_target("fwd_return_5"),
        {"max_depth": "2:4", "min_samples_leaf": "5|20"},
        "optuna",
        trials=3,
        fixed_params={"n_estimators": 5},
        out=tmp_path,
        progress=False,
    )
    assert len(pd.read_csv(tmp_path / "tune_results.csv")) == 3
    assert 2 <= best["max_depth"] <= 4 and best["n_estimators"] == 5
    assert table["score"].is_monotonic_increasing


def test_grid_search_refuses_ranges_and_bad_spaces_name_the_key():
    with pytest.raises(ConfigError, match="ranges"):
        tune("ridge", _data(), parse_target("fwd_return_5"), {"alpha": "1:10"}, "grid", progress=False)
    with pytest.raises(ConfigError, match="alpha"):
        parse_space({"alpha": "10:1"})
