"""Walk-forward: purge/embargo, one OOS prediction per bar, no look-ahead, context rows, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autostock.errors import ConfigError
from autostock.models.features import compute_features
from autostock.models.sklearn_models import GradientBoostingPredictor, RidgePredictor
from autostock.models.targets import make_target
from autostock.models.walkforward import WalkForwardConfig, parse_walk_forward, plan_folds, walk_forward
from tests.models.ml_data import learnable, market


class RecordingRidge(RidgePredictor):
    """A real ridge that records which rows (column 0 holds the row number) it was fitted on."""

    log: list[dict] = []

    def fit(self, X, y, validation_data=None):
        X, y = np.asarray(X), np.asarray(y)
        entry = {"rows": X[:, 0].copy(), "labelled": X[np.isfinite(y), 0].copy()}
        if validation_data is not None:
            Xv, yv = np.asarray(validation_data[0]), np.asarray(validation_data[1])
            entry["val_rows"] = Xv[:, 0].copy()
            entry["val_labelled"] = Xv[np.isfinite(yv), 0].copy()
        RecordingRidge.log.append(entry)
        return super().fit(X, y)


def _row_data(n: int = 600) -> tuple[pd.DataFrame, pd.Series]:
    X, y = learnable(n)
    X.insert(0, "row", np.arange(n, dtype=float))
    return X, y


@pytest.mark.parametrize("mode", ["expanding", "rolling"])
@pytest.mark.parametrize("purge,embargo,val", [(5, 0, 0.0), (8, 3, 0.0), (5, 2, 0.2)])
def test_no_training_or_validation_label_reaches_into_the_test_block(mode, purge, embargo, val):
    horizon = 5
    X, y = _row_data()
    RecordingRidge.log = []
    cfg = WalkForwardConfig(train=200, test=50, purge=purge, embargo=embargo, mode=mode, val=val)
    res = walk_forward(RecordingRidge, X, y, horizon, cfg)
    fits = [f for f in res.folds if f.refit]
    assert len(RecordingRidge.log) == len(fits) == 8
    for fold, entry in zip(fits, RecordingRidge.log):
        used = np.concatenate([entry["labelled"], entry.get("val_labelled", np.array([]))])
        # a row's label covers bars row+1 .. row+horizon: all before the block, embargo included
        assert used.max() + horizon < fold.test_start - embargo
        assert used.max() + purge + embargo < fold.test_start
        assert fold.label_end(horizon) < fold.test_start
        if mode == "rolling":
            assert entry["rows"].min() >= fold.test_start - 200
        else:
            assert entry["rows"].min() == 0
        if "val_labelled" in entry:
            # fitted labels end before the validation bars start
            assert entry["labelled"].max() + horizon < entry["val_labelled"].min()
            # the validation X follows the fitted rows without a hole (sequence models need that)
            assert entry["val_rows"].min() == entry["rows"].max() + 1


def test_one_out_of_sample_prediction_per_bar_after_the_first_window_and_nan_before():
    X, y = _row_data(577)
    res = walk_forward(RidgePredictor, X, y, 5, parse_walk_forward("train=200,test=50"))
    assert res.predictions.index.equals(X.index)
    assert res.predictions.iloc[:200].isna().all()
    assert res.predictions.iloc[200:].notna().all()
    assert [f.test_start for f in res.folds] == list(range(200, 577, 50)) and res.folds[-1].test_end == 577


def test_retrain_every_n_bars_reuses_the_model_between_refits():
    X, y = _row_data()
    res = walk_forward(RidgePredictor, X, y, 5, parse_walk_forward("train=200,test=50,retrain=100"))
    assert [f.refit for f in res.folds] == [True, False] * 4
    assert res.folds[1].fit_end == res.folds[0].fit_end


def _features_and_target(n: int | None):
    m = market()
    bars = m.bars["AAPL"].iloc[:n]
    X = compute_features(bars, "technical", None, None)
    return X, make_target(bars["close"], "fwd_return_5")


@pytest.mark.parametrize(
    "factory",
    [
        lambda: RidgePredictor(alpha=100.0),
        lambda: GradientBoostingPredictor(max_iter=15, min_samples_leaf=20),
    ],
    ids=["ridge", "gradient_boosting_with_validation"],
)
def test_walk_forward_prediction_at_bar_t_is_the_same_on_data_up_to_t_and_on_the_whole_series(factory):
    cfg = parse_walk_forward("train=360,test=60,val=0.2")
    X, y = _features_and_target(None)
    whole = walk_forward(factory, X, y, 5, cfg).predictions
    assert whole.iloc[360:].notna().all()
    for t in (360, 481, 600):
        part = walk_forward(factory, *_features_and_target(t + 1), 5, cfg).predictions
        # equal up to floating-point rounding (BLAS sums a block of another length in another order)
        assert part.iloc[t] == pytest.approx(whole.iloc[t], rel=1e-9, abs=1e-12), f"look-ahead at bar {t}"
        pd.testing.assert_series_equal(part, whole.iloc[: t + 1], rtol=1e-9, atol=1e-12)


class LaggedMean:
    """A real sequence-style predictor: the label is fitted on the mean of feature `a` over 3 rows."""

    context_rows = 3

    def __init__(self, **params):
        self.params = params

    @staticmethod
    def _window_mean(X):
        a = pd.Series(np.asarray(X, dtype=float)[:, 1])
        return a.rolling(3, min_periods=3).mean().to_numpy()

    def fit(self, X, y):
        m, yv = self._window_mean(X), np.asarray(y, dtype=float)
        ok = np.isfinite(m) & np.isfinite(yv)
        self.slope_ = float(np.polyfit(m[ok], yv[ok], 1)[0])
        return self

    def predict(self, X):
        return self.slope_ * self._window_mean(X)


def test_predictors_get_the_context_rows_before_each_block():
    X, y = _row_data()
    res = walk_forward(LaggedMean, X, y, 5, parse_walk_forward("train=200,test=50"))
    assert res.predictions.iloc[200:].notna().all()
    expected = res.model.predict(X.iloc[548:])[2:]
    np.testing.assert_allclose(res.predictions.iloc[550:].to_numpy(), expected)


def test_purge_shorter_than_the_horizon_is_refused():
    with pytest.raises(ConfigError, match="purge=2"):
        plan_folds(500, 5, WalkForwardConfig(train=200, test=50, purge=2))


@pytest.mark.parametrize(
    "text,match",
    [("train=abc", "train"), ("bogus=3", "bogus"), ("mode=sideways", "mode"), ("train=0", "train"), ("val=0.7", "val")],
)
def test_bad_walk_forward_settings_are_config_errors_naming_the_value(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_walk_forward(text)


def test_too_few_bars_for_the_first_window_is_an_error():
    X, y = _row_data(150)
    with pytest.raises(ConfigError, match="train=200"):
        walk_forward(RidgePredictor, X, y, 5, parse_walk_forward("train=200,test=50"))
