"""Ensembles of predictors, combined over their walk-forward out-of-sample predictions.

Inputs are the members' out-of-sample predictions (one column per member, one row per bar,
as produced by :func:`autostock.models.walkforward.walk_forward`) and the realised target. A
label for bar i is known at bar i + horizon, so every weight and every meta-model used at bar
t is computed from rows i with i + horizon <= t only: the ensembles are as out-of-sample as
their members.

* ``mean``: equal weights among the members that predict the bar.
* ``weighted``: weights proportional to ``1 / MSE**power`` over the last ``window`` bars whose
  labels are known; updated every bar as the walk-forward advances.
* ``regime``: the same, with the MSE taken only over past bars in the current bar's regime
  (bull / bear / sideways from :mod:`autostock.models.regime`).
* ``stacking``: a meta-learner (ridge, or logistic for direction targets) fitted, every
  ``refit`` bars, on the members' out-of-sample predictions and the labels known by then.

Weights are non-negative and sum to one on every bar where at least one member predicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autostock.errors import ConfigError

METHODS: tuple[str, ...] = ("mean", "weighted", "regime", "stacking")


@dataclass
class EnsembleResult:
    """Combined prediction per bar; per-bar member weights (weighting methods) and meta fits (stacking)."""

    prediction: pd.Series
    weights: pd.DataFrame | None = None
    fits: list[dict[str, Any]] = field(default_factory=list)


def _check(preds: pd.DataFrame, actual: pd.Series | None) -> None:
    if preds.shape[1] < 1:
        raise ConfigError("an ensemble needs at least one member")
    if actual is not None and not preds.index.equals(actual.index):
        raise ConfigError("member predictions and the target must share one index")


def _normalise(raw: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Row-normalise ``raw`` over available members; rows with no usable weight get equal weights."""
    raw = np.where(available & np.isfinite(raw) & (raw > 0), raw, 0.0)
    total = raw.sum(axis=1, keepdims=True)
    equal = available / np.maximum(available.sum(axis=1, keepdims=True), 1)
    out = np.where(total > 0, raw / np.where(total > 0, total, 1.0), equal)
    out[~available.any(axis=1)] = np.nan
    return out


def combine(preds: pd.DataFrame, weights: pd.DataFrame) -> pd.Series:
    """Weighted sum of member predictions per bar (NaN where no member predicts)."""
    p = preds.to_numpy(dtype=float)
    w = weights.reindex(columns=preds.columns).to_numpy(dtype=float)
    total = np.nansum(np.where(np.isfinite(p), p, 0.0) * np.nan_to_num(w), axis=1)
    total[~np.isfinite(p).any(axis=1)] = np.nan
    return pd.Series(total, index=preds.index, name="prediction")


def mean_weights(preds: pd.DataFrame) -> pd.DataFrame:
    """Equal weights among the members that predict each bar."""
    _check(preds, None)
    available = np.isfinite(preds.to_numpy(dtype=float))
    return pd.DataFrame(_normalise(np.zeros(available.shape), available), index=preds.index, columns=preds.columns)


def _known_mse(sq_err: pd.DataFrame, horizon: int, window: int, min_obs: int) -> pd.DataFrame:
    """At bar t, the mean squared error per member over the last ``window`` complete rows i <= t - horizon."""
    complete = sq_err.notna().all(axis=1)
    rows = sq_err[complete]
    mse = rows.rolling(window, min_periods=min_obs).mean()
    # value of row i becomes known at bar i + horizon
    return mse.reindex(sq_err.index).ffill().shift(horizon)


def error_weights(
    preds: pd.DataFrame,
    actual: pd.Series,
    horizon: int,
    window: int = 63,
    power: float = 1.0,
    min_obs: int = 10,
    regime: pd.Series | None = None,
) -> pd.DataFrame:
    """Per-bar member weights proportional to ``1 / MSE**power`` over recent known errors.

    Parameters
    ----------
    preds : DataFrame
        Out-of-sample predictions, one column per member.
    actual : Series
        The realised target per bar (label of bar i is known at bar i + horizon).
    horizon : int
        Bars each label looks ahead.
    window : int
        Number of most recent complete rows whose errors are averaged.
    power : float
        Sharpness of the weighting (0 gives equal weights).
    min_obs : int
        Rows needed before the errors are trusted; equal weights until then.
    regime : Series, optional
        Regime code per bar; when given, the errors are taken over past rows of the current
        bar's regime only (falling back to all rows while a regime has too few).
    """
    _check(preds, actual)
    if window < 1 or min_obs < 1 or horizon < 1 or power < 0:
        raise ConfigError(f"bad ensemble settings window={window}, min_obs={min_obs}, horizon={horizon}, power={power}")
    sq = preds.sub(actual, axis=0) ** 2
    overall = _known_mse(sq, horizon, window, min_obs).to_numpy(dtype=float)
    mse = overall.copy()
    if regime is not None:
        reg = regime.reindex(preds.index).to_numpy(dtype=float)
        for code in np.unique(reg[np.isfinite(reg)]):
            in_regime = sq.where(pd.Series(reg == code, index=sq.index), np.nan)
            per = _known_mse(in_regime, horizon, window, min_obs).to_numpy(dtype=float)
            use = (reg == code)[:, None] & np.isfinite(per).all(axis=1, keepdims=True)
            mse = np.where(use, per, mse)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = 1.0 / np.maximum(mse, 1e-18) ** power
    available = np.isfinite(preds.to_numpy(dtype=float))
    return pd.DataFrame(_normalise(raw, available), index=preds.index, columns=preds.columns)


def stacking(
    preds: pd.DataFrame,
    actual: pd.Series,
    horizon: int,
    refit: int = 63,
    min_train: int = 100,
    classification: bool = False,
    meta_params: dict[str, Any] | None = None,
) -> EnsembleResult:
    """A meta-learner on the members' out-of-sample predictions, refitted walk-forward.

    Before each block of ``refit`` bars starting at bar s, the meta-learner is fitted on the
    rows i with i + horizon < s where every member has an out-of-sample prediction and the
    label is known; the block is predicted with it. Rows before ``min_train`` such rows exist
    get the equal-weight mean. ``fits`` records each fit's rows.
    """
    from autostock.models.sklearn_models import LogisticPredictor, RidgePredictor

    _check(preds, actual)
    P = preds.to_numpy(dtype=float)
    y = actual.to_numpy(dtype=float)
    n = len(P)
    complete = np.isfinite(P).all(axis=1)
    usable = complete & np.isfinite(y)
    out = combine(preds, mean_weights(preds)).to_numpy().copy()
    fits: list[dict[str, Any]] = []
    first = int(np.argmax(complete)) if complete.any() else n
    s = first
    while s < n:
        e = min(s + refit, n)
        rows = np.flatnonzero(usable[: max(0, s - horizon)])
        if len(rows) >= min_train:
            meta = (
                LogisticPredictor(**(meta_params or {}))
                if classification
                else RidgePredictor(**(meta_params or {"alpha": 1.0}))
            )
            meta.fit(P[rows], y[rows])
            block = meta.predict(P[s:e])
            ok = complete[s:e]
            out[s:e][ok] = block[ok]
            fits.append({"block_start": s, "block_end": e, "rows": rows.tolist()})
        s = e
    return EnsembleResult(pd.Series(out, index=preds.index, name="prediction"), None, fits)


def ensemble(
    method: str,
    preds: pd.DataFrame,
    actual: pd.Series,
    horizon: int,
    regime: pd.Series | None = None,
    classification: bool = False,
    **kwargs: Any,
) -> EnsembleResult:
    """Combine member predictions with ``method`` (mean, weighted, regime or stacking)."""
    if method == "mean":
        w = mean_weights(preds)
    elif method == "weighted":
        w = error_weights(preds, actual, horizon, **kwargs)
    elif method == "regime":
        if regime is None:
            raise ConfigError("the regime ensemble needs a regime series")
        w = error_weights(preds, actual, horizon, regime=regime, **kwargs)
    elif method == "stacking":
        return stacking(preds, actual, horizon, classification=classification, **kwargs)
    else:
        raise ConfigError(f"unknown ensemble method {method!r}; valid: {', '.join(METHODS)}")
    return EnsembleResult(combine(preds, w), w)
