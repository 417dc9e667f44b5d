"""Keras sequence predictors: fit/predict, no look-ahead, save/load, validation split, params."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("keras")

from autostock.models.keras_models import (  # noqa: E402
    KerasPredictor,
    LSTMPredictor,
    load_keras_predictor,
    split_validation,
)
from autostock.registry import PREDICTORS  # noqa: E402

TINY = dict(seq_len=8, units=8, layers=2, epochs=1, batch_size=32, seed=3, validation_fraction=0.0)
CONFIGS = {
    "lstm-basic": ("lstm", {"variant": "basic"}),
    "lstm-stacked": ("lstm", {"variant": "stacked"}),
    "lstm-bidirectional": ("lstm", {"variant": "bidirectional"}),
    "lstm-attention": ("lstm", {"variant": "attention", "attention_units": 4}),
    "gru": ("gru", {}),
    "tcn": ("tcn", {"kernel_sizes": [2, 3], "dilations": [1, 2]}),
    "transformer": ("transformer", {"num_heads": 2, "ff_dim": 8}),
}


def make_data(n: int = 200, n_features: int = 4, seed: int = 11) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        rng.normal(size=(n, n_features)),
        columns=[f"f{i}" for i in range(n_features)],
        index=pd.bdate_range("2020-01-01", periods=n, name="date"),
    )
    y = 0.01 * X["f0"] - 0.005 * X["f1"].shift(1) + 0.002 * rng.normal(size=n)
    X.iloc[:3, 2] = np.nan  # warm-up NaN, as real features have
    return X, y


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    return make_data()


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory) -> dict[str, tuple[KerasPredictor, np.ndarray]]:
    X, y = data
    out = {}
    for key, (name, extra) in CONFIGS.items():
        model = PREDICTORS.get(name)(**TINY, **extra).fit(X, y)
        out[key] = (model, model.predict(X))
    return out


def test_each_family_is_registered_once_under_the_name_it_carries():
    from autostock.models.base import Predictor

    for name in ("lstm", "gru", "tcn", "transformer"):
        cls = PREDICTORS.get(name)
        assert cls.name == name
        assert issubclass(cls, KerasPredictor) and issubclass(cls, Predictor)


@pytest.mark.parametrize("key", list(CONFIGS))
def test_each_family_predicts_one_finite_value_per_complete_window(fitted, data, key):
    X, _ = data
    _, pred = fitted[key]
    assert pred.shape == (len(X),)
    # rows 0..2 hold NaN, so every window ending before row 3 + seq_len - 1 is incomplete
    first = 3 + TINY["seq_len"] - 1
    assert np.isnan(pred[:first]).all()
    assert np.isfinite(pred[first:]).all()


@pytest.mark.parametrize("key", list(CONFIGS))
def test_prediction_at_t_is_unchanged_when_later_rows_are_dropped(fitted, data, key):
    X, _ = data
    model, full = fitted[key]
    for t in (40, 120, len(X) - 1):
        truncated = model.predict(X.iloc[: t + 1])
        np.testing.assert_allclose(truncated, full[: t + 1], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("key", list(CONFIGS))
def test_save_load_round_trip_gives_identical_predictions(fitted, data, key, tmp_path):
    X, _ = data
    model, pred = fitted[key]
    model.save(tmp_path / key)
    for loaded in (type(model).load(tmp_path / key), load_keras_predictor(tmp_path / key)):
        assert type(loaded) is type(model)
        assert loaded.get_params() == model.get_params()
        np.testing.assert_array_equal(loaded.predict(X), pred)


def test_classification_predicts_probabilities_of_an_up_move(data):
    X, y = data
    model = PREDICTORS.get("gru")(**{**TINY, "layers": 1}, task="classification").fit(X, y)
    prob = model.predict(X)
    finite = prob[np.isfinite(prob)]
    assert finite.size and ((finite > 0) & (finite < 1)).all()
    assert model.history_["loss"]


def test_validation_slice_is_taken_from_the_end_of_the_fit_data():
    assert split_validation(100, 0.2) == (80, 20)
    assert split_validation(100, 0.2, gap=5) == (75, 20)
    assert split_validation(100, 0.0) == (100, 0)
    assert split_validation(3, 0.5, gap=1) == (3, 0)  # too few windows: no validation


def test_early_stopping_watches_the_validation_loss(data):
    X, y = data
    model = LSTMPredictor(**{**TINY, "layers": 1, "epochs": 3, "validation_fraction": 0.25, "patience": 1}).fit(X, y)
    assert len(model.history_["val_loss"]) == len(model.history_["loss"]) <= 3
    given = LSTMPredictor(**{**TINY, "layers": 1, "epochs": 1}).fit(
        X.iloc[:150], y.iloc[:150], validation_data=(X.iloc[150:], y.iloc[150:])
    )
    assert len(given.history_["val_loss"]) == 1


def test_scaling_statistics_come_from_the_fit_rows_only(data):
    X, y = data
    model = LSTMPredictor(**{**TINY, "layers": 1, "epochs": 1, "validation_fraction": 0.0}).fit(
        X.iloc[:100], y.iloc[:100]
    )
    fit_rows = X.iloc[:100].dropna()
    np.testing.assert_allclose(model.scaler_["mean"], fit_rows.mean().to_numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.scaler_["scale"], fit_rows.std(ddof=0).to_numpy(), rtol=1e-5)


def test_bad_params_and_inputs_raise_naming_the_value(fitted, data):
    X, _ = data
    with pytest.raises(ValueError, match="unknown param"):
        LSTMPredictor(unitz=8)
    with pytest.raises(ValueError, match="variant"):
        LSTMPredictor(variant="sideways")
    with pytest.raises(ValueError, match="dropout"):
        PREDICTORS.get("tcn")(dropout=1.5)
    with pytest.raises(RuntimeError, match="not fitted"):
        LSTMPredictor().predict(X)
    model, _ = fitted["gru"]
    with pytest.raises(ValueError, match="feature columns"):
        model.predict(X.iloc[:, :2])


def test_set_params_changes_a_param_and_keeps_the_others():
    model = LSTMPredictor(units=8).set_params(seq_len=5)
    assert model.get_params()["units"] == 8 and model.seq_len == 5 and model.context_rows == 5


def test_importing_the_models_and_serving_modules_does_not_import_keras():
    code = (
        "import sys, autostock.models.keras_models, autostock.indicators.predictor, "
        "autostock.strategies.ml_signal, autostock.strategies.ensemble; "
        "sys.exit(1 if 'keras' in sys.modules or 'tensorflow' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
