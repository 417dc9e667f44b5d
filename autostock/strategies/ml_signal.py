"""Trade the out-of-sample predictions of any model: long / short / flat by threshold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from autostock.errors import ConfigError
from autostock.indicators.predictor import OHLCV, PredictorIndicator, nums_to_datetimes
from autostock.registry import STRATEGIES
from autostock.strategies.base import SignalStrategy

KINDS = ("auto", "return", "probability")
SERVE = ("auto", "predictions", "model")


def load_model_predictions(model: str | Path, symbol: str) -> pd.Series:
    """Out-of-sample predictions of ``symbol`` from a model directory written by ``autostock train``."""
    from autostock.models.artifacts import load_predictions

    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"model {str(model)!r} is neither a model directory nor a registered predictor "
                          "(train one with `autostock train --out DIR`)")
    return load_predictions(folder, symbol)


def feed_bars(data: Any) -> pd.DataFrame:
    """The OHLCV bars a preloaded backtrader feed holds, as a DataFrame indexed by date."""
    n = len(data.close.array)
    if n == 0:
        raise ConfigError(f"{data._name or 'data'}: no preloaded history to train on (a live feed); "
                          "train with `autostock train --out DIR` and pass model=DIR")
    cols = {c: np.asarray(getattr(data, c).array[:n], dtype="float64") for c in OHLCV}
    return pd.DataFrame(cols, index=nums_to_datetimes(data.datetime.array[:n]).rename("date"))


def walk_forward_predictions(data: Any, p: Any) -> pd.Series:
    """Train the registered predictor ``p.model`` walk-forward on this feed's own history and
    return its out-of-sample predictions (NaN before the first test bar)."""
    from autostock.config import parse_value
    from autostock.models.features import compute_features
    from autostock.models.targets import make_target, parse_target
    from autostock.models.training import predictor_factory
    from autostock.models.walkforward import parse_walk_forward, walk_forward

    bars = feed_bars(data)
    target = parse_target(p.target)
    params: dict[str, Any] = {}
    for pair in filter(None, (s.strip() for s in str(p.model_params or "").split(","))):
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"ml_signal model_params item {pair!r}: expected key=value")
        params[key.strip()] = parse_value(value.strip())
    factory, _ = predictor_factory(p.model, params, target, int(p.seed))
    X = compute_features(bars, p.features)
    y = make_target(bars["close"], target)
    return walk_forward(factory, X, y, target.horizon, parse_walk_forward(p.walk_forward)).predictions


def is_predictor_name(model: str) -> bool:
    from autostock.registry import PREDICTORS

    return bool(model) and not Path(model).expanduser().exists() and model in PREDICTORS


def model_task(model: str | Path) -> str | None:
    """``"probability"`` / ``"return"`` as recorded in the model directory's params.json, if any."""
    path = Path(model).expanduser() / "params.json"
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    flat = {**meta, **(meta.get("params") or {})} if isinstance(meta, dict) else {}
    task = str(flat.get("task", "")).lower()
    target = str(flat.get("target", "")).lower()
    if task == "classification" or target.startswith("direction"):
        return "probability"
    if task == "regression" or target.startswith("fwd_"):
        return "return"
    return None


def infer_kind(values: pd.Series) -> str:
    """``probability`` when every finite value lies in [0, 1] with a mean in (0.2, 0.8), else ``return``."""
    finite = values[np.isfinite(values.to_numpy(dtype="float64"))]
    if len(finite) and finite.between(0.0, 1.0).all() and 0.2 < float(finite.mean()) < 0.8:
        return "probability"
    return "return"


def thresholds(p: Any, kind: str) -> tuple[float, float]:
    """(long, short) thresholds: the params, or 0/0 for returns and 0.5/0.5 for probabilities."""
    centre = 0.5 if kind == "probability" else 0.0
    long_t = centre if p.long_threshold is None else float(p.long_threshold)
    short_t = centre if p.short_threshold is None else float(p.short_threshold)
    if short_t > long_t:
        raise ConfigError(f"ml_signal needs short_threshold <= long_threshold, got {short_t} > {long_t}")
    return long_t, short_t


class ThresholdSignal(bt.Indicator):
    """``+1`` when the prediction > ``long_threshold``, ``-1`` when < ``short_threshold``, else 0
    (NaN predictions give 0)."""

    lines = ("signal",)
    params = (("long_threshold", 0.0), ("short_threshold", 0.0))

    def __init__(self) -> None:
        self.lines.signal = (self.data > self.p.long_threshold) - (self.data < self.p.short_threshold)


@STRATEGIES.register("ml_signal")
class MLSignal(SignalStrategy):
    """Long / short / flat from a model's out-of-sample prediction of each bar.

    Formula: ``signal = +1 if pred > long_threshold; -1 if pred < short_threshold; else 0``;
    ``-1`` is flat unless ``allow_short``. Predictions are forward returns (thresholds default
    to 0) or up-probabilities (thresholds default to 0.5); ``kind`` says which, ``auto`` reads
    the model's params.json (target ``direction_K`` means probabilities) or infers it from the
    values. Sizing is the sizer's job, so any sizer works.

    Params:

    * ``model``: a model directory written by ``autostock train`` (its precomputed walk-forward
      predictions are served, nothing trains), or a registered predictor name (``lstm``,
      ``ridge``, ...), which is then trained walk-forward on each feed's own history before the
      first bar (out-of-sample only; ``target``, ``features``, ``walk_forward``,
      ``model_params``, ``seed`` configure it);
    * ``predictions``: instead of ``model``, a ``pd.Series`` indexed by date or a dict symbol ->
      Series (programmatic use);
    * ``serve``: ``auto`` (precomputed predictions, or the saved predictor on a live feed),
      ``predictions``, or ``model`` (the directory's saved predictor predicts each bar from
      features computed on the feed; one batch in backtests, the newest bar in live ``next()``);
    * ``lookback``: bars handed to the features per live prediction (300);
    * ``long_threshold`` / ``short_threshold`` (None: by kind), ``kind`` (auto), ``allow_short``.
    """

    params = (
        ("model", ""),
        ("predictions", None),
        ("long_threshold", None),
        ("short_threshold", None),
        ("kind", "auto"),
        ("serve", "auto"),
        ("lookback", 300),
        ("target", "fwd_return_5"),
        ("features", "basic"),
        ("walk_forward", ""),
        ("model_params", ""),
        ("seed", 42),
    )

    @classmethod
    def predictions_for(cls, data: Any, p: Any) -> pd.Series:
        """The precomputed (or walk-forward trained) out-of-sample predictions for ``data``."""
        symbol = data._name or "data0"
        if p.predictions is not None:
            if isinstance(p.predictions, pd.Series):
                return p.predictions
            if isinstance(p.predictions, dict):
                if symbol not in p.predictions:
                    raise ConfigError(f"ml_signal predictions have no series for {symbol}; "
                                      f"have: {', '.join(map(str, p.predictions))}")
                return p.predictions[symbol]
            raise ConfigError(f"ml_signal predictions must be a Series or a dict of Series, "
                              f"got {type(p.predictions).__name__}")
        if not p.model:
            raise ConfigError("ml_signal needs model=<model directory or predictor name> (or predictions=)")
        if is_predictor_name(p.model):
            return walk_forward_predictions(data, p)
        return load_model_predictions(p.model, symbol)

    @classmethod
    def prediction_line(cls, data: Any, p: Any) -> tuple[Any, str]:
        """(PredictorIndicator for ``data``, kind ``return`` | ``probability``)."""
        if p.serve not in SERVE:
            raise ConfigError(f"ml_signal serve must be one of {', '.join(SERVE)}, got {p.serve!r}")
        if p.kind not in KINDS:
            raise ConfigError(f"ml_signal kind must be one of {', '.join(KINDS)}, got {p.kind!r}")
        is_dir = bool(p.model) and p.predictions is None and Path(p.model).expanduser().is_dir()
        use_model = p.serve == "model" or (p.serve == "auto" and is_dir and data.islive())
        recorded = model_task(p.model) if is_dir else None
        if use_model:
            if not is_dir:
                raise ConfigError("ml_signal serve=model needs model=<a model directory written by autostock train>")
            from autostock.models.artifacts import load_artifacts

            trained = load_artifacts(p.model)
            predictor = trained.model(data._name or "data0")
            line = PredictorIndicator(data, predictor=predictor, features=trained.features,
                                      lookback=int(p.lookback))
            return line, p.kind if p.kind != "auto" else (recorded or "return")
        series = cls.predictions_for(data, p)
        kind = p.kind
        if kind == "auto":
            if p.model and p.predictions is None and not is_dir:
                kind = "probability" if p.target.startswith("direction") else "return"
            else:
                kind = recorded or infer_kind(series)
        return PredictorIndicator(data, predictions=series), kind

    @classmethod
    def signal(cls, data: Any, p: Any) -> Any:
        prediction, kind = cls.prediction_line(data, p)
        long_t, short_t = thresholds(p, kind)
        return ThresholdSignal(prediction, long_threshold=long_t, short_threshold=short_t)
