"""Out-of-sample evaluation: RMSE, MAE, directional accuracy, information coefficient.

Every model metric is reported next to the same metric for the naive baselines of
:mod:`autostock.models.baselines`, computed on exactly the same bars. Directional accuracy
counts a forecast >= 0 as "up" (so the zero forecast is the always-up baseline); the
information coefficient is the Spearman rank correlation of forecast and outcome.

Price level: the model's price forecast for close[t + k] is close[t] * (1 + forecast);
its RMSE is reported with the naive last-price forecast's RMSE on the same bars, because a
price-level RMSE is dominated by the price level and is only meaningful relative to that.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from autostock.models.baselines import BASELINES, baseline_probabilities, baseline_returns
from autostock.models.targets import Target, forward_return, parse_target


def _clean(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _finite_pairs(pred: np.ndarray | pd.Series, actual: np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray, float]:
    """The bars where both are finite, and their Spearman IC (NaN when undefined)."""
    p = np.asarray(pred, dtype=float)
    a = np.asarray(actual, dtype=float)
    ok = np.isfinite(p) & np.isfinite(a)
    p, a = p[ok], a[ok]
    ic = spearmanr(p, a).statistic if len(p) > 2 and np.ptp(p) > 0 and np.ptp(a) > 0 else float("nan")
    return p, a, ic


def regression_metrics(pred: np.ndarray | pd.Series, actual: np.ndarray | pd.Series) -> dict:
    """RMSE, MAE, directional accuracy and IC over the bars where both are finite."""
    p, a, ic = _finite_pairs(pred, actual)
    if not len(p):
        return {"n": 0, "rmse": None, "mae": None, "directional_accuracy": None, "ic": None}
    err = p - a
    return {
        "n": int(len(p)),
        "rmse": _clean(float(np.sqrt(np.mean(err**2)))),
        "mae": _clean(float(np.mean(np.abs(err)))),
        "directional_accuracy": _clean(float(np.mean((p >= 0) == (a > 0)))),
        "ic": _clean(ic),
    }


def classification_metrics(prob: np.ndarray | pd.Series, actual: np.ndarray | pd.Series) -> dict:
    """Accuracy (prob >= 0.5 means up), Brier score, log loss and IC for up-probabilities."""
    p, a, ic = _finite_pairs(prob, actual)
    if not len(p):
        return {"n": 0, "accuracy": None, "brier": None, "log_loss": None, "ic": None}
    pc = np.clip(p, 1e-6, 1 - 1e-6)
    return {
        "n": int(len(p)),
        "accuracy": _clean(float(np.mean((p >= 0.5) == (a > 0.5)))),
        "brier": _clean(float(np.mean((p - a) ** 2))),
        "log_loss": _clean(float(-np.mean(a * np.log(pc) + (1 - a) * np.log(1 - pc)))),
        "ic": _clean(ic),
    }


def aligned(pred: pd.Series, close: pd.Series, target: str | Target, window: int = 20) -> pd.DataFrame:
    """Model forecast, naive baseline forecasts and the outcome on the bars the model predicted.

    Columns: ``model``, ``actual``, one per baseline, and ``close``; rows where the model
    made a prediction and the outcome is known.
    """
    t = parse_target(target) if isinstance(target, str) else target
    fwd = forward_return(close, t.horizon)
    if t.is_classification:
        actual = (fwd > 0).astype(float).where(fwd.notna())
        base = baseline_probabilities(close, t.horizon, window)
    elif t.kind == "fwd_logreturn":
        actual, base = np.log1p(fwd), np.log1p(baseline_returns(close, t.horizon, window))
    else:
        actual, base = fwd, baseline_returns(close, t.horizon, window)
    frame = pd.concat(
        [
            pred.reindex(close.index).astype(float).rename("model"),
            actual.rename("actual"),
            base,
            close.astype(float).rename("close"),
        ],
        axis=1,
    )
    return frame[frame["model"].notna() & frame["actual"].notna()]


def metrics_from_frame(frame: pd.DataFrame, target: str | Target, price_level: bool = True) -> dict:
    """Model and baseline metrics from an :func:`aligned` frame (or several concatenated)."""
    t = parse_target(target) if isinstance(target, str) else target
    metric = classification_metrics if t.is_classification else regression_metrics
    out: dict = {"target": t.name, "horizon": t.horizon, "model": metric(frame["model"], frame["actual"])}
    out["baselines"] = {name: metric(frame[name], frame["actual"]) for name in BASELINES}
    if price_level and not t.is_classification:
        pred_simple = np.expm1(frame["model"]) if t.kind == "fwd_logreturn" else frame["model"]
        actual_simple = np.expm1(frame["actual"]) if t.kind == "fwd_logreturn" else frame["actual"]
        c = frame["close"].to_numpy()
        future = c * (1.0 + actual_simple.to_numpy())
        model_err = c * (1.0 + pred_simple.to_numpy()) - future
        naive_err = c - future
        if len(c):
            m, nv = float(np.sqrt(np.mean(model_err**2))), float(np.sqrt(np.mean(naive_err**2)))
            out["price_level"] = {
                "n": int(len(c)),
                "model_rmse": _clean(m),
                "naive_last_price_rmse": _clean(nv),
                "ratio": _clean(m / nv) if nv > 0 else None,
            }
        else:
            out["price_level"] = {"n": 0, "model_rmse": None, "naive_last_price_rmse": None, "ratio": None}
    else:
        out["price_level"] = None
    return out


def evaluate(pred: pd.Series, close: pd.Series, target: str | Target, window: int = 20) -> dict:
    """All out-of-sample metrics for one symbol's predictions, with the naive baselines.

    Parameters
    ----------
    pred : Series
        Out-of-sample predictions indexed like ``close`` (NaN where none was made).
    close : Series
        Close prices.
    target : str or Target
        The target the predictions are for.
    window : int
        Window of the moving-average baseline.

    Returns
    -------
    dict
        ``model``, ``baselines`` (zero, last_return, moving_average: same bars) and
        ``price_level`` (model vs naive last-price RMSE; None for direction targets).
    """
    return metrics_from_frame(aligned(pred, close, target, window), target)
