"""Walk-forward: folds never overlap their out-of-sample slices; the stitched curve is exactly
the chosen params' out-of-sample returns."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from autostock.engine import run_backtest
from autostock.errors import ConfigError
from autostock.robustness.executor import Executor
from autostock.robustness.optimize import parse_grid
from autostock.robustness.walkforward import make_folds, parse_duration, walk_forward, write_walkforward

DATES = pd.bdate_range("2015-01-01", "2019-12-31")


@pytest.mark.parametrize("anchored", [False, True])
@pytest.mark.parametrize("train, test", [("1y", "6m"), ("2y", "3m"), ("18m", "1y"), ("26w", "45d")])
def test_out_of_sample_slices_never_overlap_and_follow_their_training_window(train, test, anchored):
    folds = make_folds(DATES, parse_duration(train), parse_duration(test), anchored)
    assert len(folds) >= 2
    for f in folds:
        assert f.train_start <= f.train_end < f.test_start <= f.test_end
        if anchored:
            assert f.train_start == DATES[0]
    for a, b in zip(folds, folds[1:]):
        assert a.test_end < b.test_start  # consecutive, disjoint out-of-sample slices
        # nothing in between is skipped: the next slice starts on the next trading day
        assert DATES[DATES.get_loc(a.test_end) + 1] == b.test_start
    covered = np.concatenate([DATES[(DATES >= f.test_start) & (DATES <= f.test_end)] for f in folds])
    assert len(covered) == len(set(covered))


def test_rolling_training_windows_keep_their_length():
    folds = make_folds(DATES, parse_duration("1y"), parse_duration("6m"))
    assert folds[0].train_start == DATES[0] and folds[0].test_start == pd.Timestamp("2016-01-01")
    for f in folds:
        assert 250 <= len(DATES[(DATES >= f.train_start) & (DATES <= f.train_end)]) <= 262


@pytest.mark.parametrize("text", ["3", "y", "0m", "-1y", "2q"])
def test_bad_durations_are_user_errors(text):
    with pytest.raises(ConfigError, match="duration"):
        parse_duration(text)


def test_data_shorter_than_one_fold_is_a_user_error():
    with pytest.raises(ConfigError, match="no walk-forward fold fits"):
        make_folds(DATES[:100], parse_duration("1y"), parse_duration("6m"))


def test_walk_forward_stitches_the_chosen_params_out_of_sample_returns(two_symbol_market, sma_spec, tmp_path):
    grid = parse_grid(["fast=5,10", "slow=20,40"])
    with Executor(2, progress=False) as ex:
        result = walk_forward(sma_spec, two_symbol_market, grid, "9m", "6m", executor=ex)
    folds = result.folds
    assert len(folds) >= 2
    # every chosen param set is the in-sample winner of its fold
    for _, row in folds.iterrows():
        fold_trials = result.trials[(result.trials["fold"] == row["fold"]) & (result.trials["status"] == "ok")]
        winner = fold_trials.loc[fold_trials["objective"].astype(float).idxmax()]
        assert (winner["fast"], winner["slow"]) == (row["fast"], row["slow"])
    # the stitched OOS returns are the chosen params' run (warmed up from the fold's training start)
    row = folds.iloc[1]
    spec = sma_spec.replace(
        params={"fast": int(row["fast"]), "slow": int(row["slow"])}, start=row["train_start"], end=row["test_end"]
    )
    direct = run_backtest(spec, two_symbol_market).returns
    oos = direct[(direct.index >= row["test_start"]) & (direct.index <= row["test_end"])]
    pd.testing.assert_series_equal(result.oos_returns.loc[oos.index], oos, check_names=False)
    assert not result.oos_returns.index.has_duplicates
    assert result.oos_returns.index[0] == pd.Timestamp(folds.iloc[0]["test_start"])
    assert result.oos_equity.iloc[-1] == pytest.approx(sma_spec.cash * (1 + result.oos_returns).prod())
    files = write_walkforward(result, tmp_path, tearsheet=True)
    saved = json.loads(files["json"].read_text())
    assert len(saved["folds"]) == len(folds) and "walk_forward_efficiency" in saved
    assert "<html" in files["tearsheet"].read_text().lower()
    # WFE is OOS CAGR / IS CAGR where the IS CAGR is a finite non-zero number, else None
    defined = 0
    for fold in saved["folds"]:
        is_cagr, oos_cagr = fold["is_cagr"], fold["oos_cagr"]
        if is_cagr is not None and oos_cagr is not None and math.isfinite(is_cagr) and is_cagr != 0:
            assert fold["wfe"] == pytest.approx(oos_cagr / is_cagr)
            defined += 1
        else:
            assert fold["wfe"] is None
    assert defined >= 1


def test_walk_forward_reports_dsr_pbo_one_verdict_and_saves_the_trial_returns(two_symbol_market, sma_spec, tmp_path):
    from autostock.robustness.stats import overfitting_verdict

    grid = parse_grid(["fast=3,5,8", "slow=20,30"])
    with Executor(1, progress=False) as ex:
        result = walk_forward(sma_spec, two_symbol_market, grid, "9m", "6m", executor=ex)
    stats = result.overfitting
    assert stats["n_trials"] == 6
    assert set(stats["pbo_per_fold"]) == set(result.folds["fold"])
    assert stats["verdict"] == overfitting_verdict(stats["deflated_sharpe"]["dsr"], stats["pbo_median"], 6).to_dict()
    files = write_walkforward(result, tmp_path, tearsheet=False)
    saved = json.loads(files["json"].read_text())
    assert saved["verdict"]["text"] == stats["verdict"]["text"]
    trials = pd.read_csv(files["trial_returns"], parse_dates=["date"])
    assert list(trials.columns) == ["date", "fold", "trial", "return"]
    assert trials.groupby("fold")["trial"].nunique().eq(6).all()
    # each fold's in-sample returns stay inside its training window
    for f in result.folds.itertuples():
        rows = trials[trials["fold"] == f.fold]
        assert rows["date"].min() >= pd.Timestamp(f.train_start) and rows["date"].max() <= pd.Timestamp(f.train_end)
