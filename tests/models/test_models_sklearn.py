"""scikit-learn predictors: fit/predict, NaN rows, save/load round trip, registry names."""

from __future__ import annotations

import numpy as np
import pytest

from autostock.models.sklearn_models import (
    GradientBoostingPredictor,
    LogisticPredictor,
    RandomForestPredictor,
    RidgePredictor,
    SklearnPredictor,
)
from autostock.registry import PREDICTORS
from tests.models.ml_data import learnable

TINY = {
    "random_forest": {"n_estimators": 10, "max_depth": 3, "min_samples_leaf": 5},
    "gradient_boosting": {"max_iter": 20, "min_samples_leaf": 10},
    "ridge": {"alpha": 1.0},
    "logistic": {},
}


def _make(name: str, task: str | None = None) -> SklearnPredictor:
    cls = PREDICTORS.get(name)
    params = dict(TINY[name])
    if task and "task" in cls.DEFAULTS and cls.ALLOWED_TASKS != (task,) and task in cls.ALLOWED_TASKS:
        params["task"] = task
    return cls(**params)


def test_builtin_sklearn_predictors_are_registered_by_name():
    import autostock.models.sklearn_models  # noqa: F401

    for name in TINY:
        assert name in PREDICTORS


@pytest.mark.parametrize("name", ["random_forest", "gradient_boosting", "ridge"])
def test_regressor_fits_and_beats_the_zero_forecast_out_of_sample(name):
    X, y = learnable()
    model = _make(name).fit(X.iloc[:400], y.iloc[:400])
    pred = model.predict(X.iloc[400:])
    assert pred.shape == (200,) and np.isfinite(pred).all()
    assert np.sqrt(np.mean((pred - y.iloc[400:]) ** 2)) < 0.8 * np.sqrt(np.mean(y.iloc[400:] ** 2))


@pytest.mark.parametrize("name", ["random_forest", "gradient_boosting", "logistic"])
def test_classifier_predicts_up_probabilities_better_than_a_coin(name):
    X, y = learnable()
    model = _make(name, "classification").fit(X.iloc[:400], (y.iloc[:400] > 0).astype(float))
    prob = model.predict(X.iloc[400:])
    assert ((prob >= 0) & (prob <= 1)).all()
    assert np.mean((prob >= 0.5) == (y.iloc[400:] > 0)) > 0.65


@pytest.mark.parametrize("name", list(TINY))
def test_save_load_round_trip_gives_identical_predictions(name, tmp_path):
    X, y = learnable()
    task = "classification" if name == "logistic" else None
    model = _make(name, task).fit(X.iloc[:400], y.iloc[:400])
    model.save(tmp_path / name)
    loaded = type(model).load(tmp_path / name)
    np.testing.assert_array_equal(loaded.predict(X.iloc[400:]), model.predict(X.iloc[400:]))
    assert loaded.get_params() == model.get_params()
    # the base class finds the family from params.json
    np.testing.assert_array_equal(
        SklearnPredictor.load(tmp_path / name).predict(X.iloc[400:]), model.predict(X.iloc[400:])
    )


def test_rows_with_nan_are_skipped_in_fit_and_predict_nan():
    X, y = learnable()
    X = X.copy()
    X.iloc[5, 1] = np.nan
    y = y.copy()
    y.iloc[7] = np.nan
    model = RidgePredictor().fit(X, y)
    pred = model.predict(X)
    assert np.isnan(pred[5]) and np.isfinite(np.delete(pred, 5)).all()


def test_same_seed_gives_identical_forests():
    X, y = learnable()
    a = RandomForestPredictor(**TINY["random_forest"], seed=3).fit(X, y).predict(X)
    b = RandomForestPredictor(**TINY["random_forest"], seed=3).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)


def test_gradient_boosting_early_stops_on_the_validation_data_given():
    X, y = learnable(noise=2.0)
    early = GradientBoostingPredictor(max_iter=300, learning_rate=0.3, patience=3)
    early.fit(X.iloc[:400], y.iloc[:400], validation_data=(X.iloc[400:500], y.iloc[400:500]))
    assert early.estimator_.n_iter_ < 300


def test_unknown_param_and_wrong_task_fail_fast_naming_them():
    with pytest.raises(ValueError, match="n_trees"):
        RandomForestPredictor(n_trees=3)
    with pytest.raises(ValueError, match="classification"):
        RidgePredictor(task="classification")
    with pytest.raises(ValueError, match="3 feature columns"):
        X, y = learnable()
        LogisticPredictor().fit(X, (y > 0).astype(float)).predict(X.iloc[:, :3])


def test_sklearn_and_keras_predictors_share_one_base_and_one_registry():
    from autostock.models.base import Predictor
    from autostock.models.keras_models import KerasPredictor

    for name in ("random_forest", "gradient_boosting", "ridge", "logistic"):
        cls = PREDICTORS.get(name)
        assert cls.name == name and issubclass(cls, SklearnPredictor) and issubclass(cls, Predictor)
    assert issubclass(KerasPredictor, Predictor)
    import autostock.models.keras_models as km
    import autostock.models.sklearn_models as sm

    assert not hasattr(km, "KERAS_PREDICTORS") and not hasattr(sm, "SKLEARN_PREDICTORS")
    with pytest.raises(ValueError, match="ridge: unknown param"):
        PREDICTORS.get("ridge")(depth=3)
