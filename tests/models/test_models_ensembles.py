"""Ensembles over OOS predictions: weights sum to one, favour the better member, stay causal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autostock.errors import ConfigError
from autostock.models.ensembles import combine, ensemble, error_weights, mean_weights, stacking


def _members(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Three members: good (small noise), bad (large noise), biased; NaN before bar 100 (not OOS yet)."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-01", periods=n)
    actual = pd.Series(rng.standard_normal(n), index=idx)
    preds = pd.DataFrame(
        {
            "good": actual + 0.2 * rng.standard_normal(n),
            "bad": actual + 2.0 * rng.standard_normal(n),
            "biased": actual + 1.0,
        },
        index=idx,
    )
    preds.iloc[:100] = np.nan
    preds.iloc[250, 1] = np.nan  # a member without a prediction on one bar
    regime = pd.Series(np.where(np.arange(n) % 50 < 25, 1.0, -1.0), index=idx)
    return preds, actual, regime


@pytest.mark.parametrize("method", ["mean", "weighted", "regime"])
def test_weights_are_non_negative_and_sum_to_one_wherever_a_member_predicts(method):
    preds, actual, regime = _members()
    res = ensemble(method, preds, actual, horizon=5, regime=regime)
    w = res.weights
    live = preds.notna().any(axis=1)
    np.testing.assert_allclose(w[live].sum(axis=1), 1.0)
    assert (w[live] >= 0).all().all() and w[~live].isna().all().all()
    assert w.iloc[250]["bad"] == 0  # no prediction, no weight


def test_error_weights_favour_the_member_with_the_smallest_recent_error():
    preds, actual, _ = _members()
    w = error_weights(preds, actual, horizon=5, window=50)
    late = w.iloc[200:]
    assert (late["good"] > 0.8).all() and (late["good"] > late["bad"]).all()
    # until enough errors are known the weights are equal
    np.testing.assert_allclose(w.iloc[100].to_numpy(), [1 / 3] * 3)
    combined = combine(preds, w)
    rmse = lambda p: float(np.sqrt(((p - actual).iloc[200:] ** 2).mean()))  # noqa: E731
    assert rmse(combined) < rmse(combine(preds, mean_weights(preds)))


def test_weights_at_bar_t_use_only_labels_known_by_t():
    preds, actual, regime = _members()
    t, horizon = 300, 5
    changed = actual.copy()
    changed.iloc[t - horizon + 1 :] = 1e6  # labels not yet known at bar t
    for reg in (None, regime):
        a = error_weights(preds, actual, horizon, regime=reg)
        b = error_weights(preds, changed, horizon, regime=reg)
        pd.testing.assert_frame_equal(a.iloc[: t + 1], b.iloc[: t + 1])


def test_regime_weights_use_errors_from_the_current_regime():
    preds, actual, regime = _members()
    # make "bad" perfect in regime 1 only
    preds.loc[regime == 1, "bad"] = actual[regime == 1]
    w = error_weights(preds, actual, 5, window=40, regime=regime)
    later = w.iloc[250:]
    in_bull = later[regime.iloc[250:] == 1]["bad"]
    in_bear = later[regime.iloc[250:] == -1]["bad"]
    assert in_bull.mean() > 0.5 > in_bear.mean()


def test_stacking_meta_learner_is_fitted_only_on_oos_rows_with_labels_known_before_its_block():
    preds, actual, _ = _members()
    horizon = 5
    res = stacking(preds, actual, horizon, refit=50, min_train=60)
    assert res.fits, "the meta-learner was never fitted"
    oos = preds.notna().all(axis=1).to_numpy()
    for fit in res.fits:
        rows = np.array(fit["rows"])
        assert oos[rows].all()  # only out-of-sample base predictions
        assert rows.max() + horizon < fit["block_start"]
    assert res.prediction.iloc[:100].isna().all() and res.prediction.iloc[100:].notna().all()
    rmse = float(np.sqrt(((res.prediction - actual).iloc[300:] ** 2).mean()))
    assert rmse < 0.25  # learns to lean on the good member and remove the bias


def test_stacking_for_direction_targets_outputs_probabilities():
    preds, actual, _ = _members()
    up = (actual > 0).astype(float)
    probs = preds.apply(lambda c: 1 / (1 + np.exp(-3 * c)))
    res = stacking(probs, up, 5, refit=50, min_train=60, classification=True)
    p = res.prediction.dropna()
    assert ((p >= 0) & (p <= 1)).all()


def test_unknown_method_is_a_config_error():
    preds, actual, _ = _members()
    with pytest.raises(ConfigError, match="median"):
        ensemble("median", preds, actual, 5)
