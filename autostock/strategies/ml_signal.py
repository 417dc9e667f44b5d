"""Trade the out-of-sample predictions of any model: long / short / flat by threshold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from autostock.errors import ConfigError
from autostock.indicators.predictor import PredictorIndicator
from autostock.registry import STRATEGIES
from autostock.strategies.base import SignalStrategy

KINDS = ("auto", "return", "probability")
PREDICTION_DIRS = ("predictions", "oos", ".")


def _read_series(path: Path) -> pd.Series:
    frame = pd.read_parquet(path)
    if "date" in frame.columns:
        frame = frame.set_index("date")
    cols = [c for c in ("prediction", "pred", "oos_prediction") if c in frame.columns]
    if cols:
        series = frame[cols[0]]
    elif frame.shape[1] == 1:
        series = frame.iloc[:, 0]
    else:
        raise ConfigError(f"{path}: expected a 'prediction' column, found {', '.join(map(str, frame.columns))}")
    series.index = pd.DatetimeIndex(pd.to_datetime(series.index))
    return series.astype("float64")


def load_model_predictions(model: str | Path, symbol: str) -> pd.Series:
    """Out-of-sample predictions of ``symbol`` from a model directory written by ``autostock train``.

    Uses ``autostock.models.artifacts.load_predictions`` when that module provides it, else looks
    for ``<model>/{predictions,oos,.}/<SYMBOL>.parquet``.
    """
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"model directory {str(model)!r} not found (train one with `autostock train --out DIR`)")
    try:
        from autostock.models import artifacts  # written by the training side; optional here
    except ImportError:
        artifacts = None
    loader = getattr(artifacts, "load_predictions", None)
    if loader is not None:
        try:
            series = loader(folder, symbol)
        except (FileNotFoundError, KeyError) as exc:
            raise ConfigError(f"model {folder} has no out-of-sample predictions for {symbol}: {exc}") from None
        if isinstance(series, pd.DataFrame):
            series = series["prediction"] if "prediction" in series else series.iloc[:, 0]
        return series.astype("float64")
    for sub in PREDICTION_DIRS:
        for name in (f"{symbol}.parquet", f"{symbol.upper()}.parquet", f"oos_{symbol}.parquet"):
            path = folder / sub / name
            if path.is_file():
                return _read_series(path)
    raise ConfigError(f"model {folder} has no out-of-sample predictions for {symbol} "
                      f"(looked for predictions/{symbol}.parquet)")


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
    the model's params.json or infers it from the values.

    Params: ``model`` (a model directory written by ``autostock train``), ``predictions``
    (instead of ``model``: a ``pd.Series`` indexed by date, or a dict symbol -> Series),
    ``long_threshold`` / ``short_threshold`` (None: by kind), ``kind`` (auto), ``allow_short``
    (False). Sizing is the sizer's job, so any sizer works.
    """

    params = (
        ("model", ""),
        ("predictions", None),
        ("long_threshold", None),
        ("short_threshold", None),
        ("kind", "auto"),
    )

    @classmethod
    def predictions_for(cls, data: Any, p: Any) -> pd.Series:
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
            raise ConfigError("ml_signal needs model=<model directory> (or predictions=)")
        return load_model_predictions(p.model, symbol)

    @classmethod
    def signal(cls, data: Any, p: Any) -> Any:
        if p.kind not in KINDS:
            raise ConfigError(f"ml_signal kind must be one of {', '.join(KINDS)}, got {p.kind!r}")
        series = cls.predictions_for(data, p)
        kind = p.kind
        if kind == "auto":
            kind = (model_task(p.model) if p.model else None) or infer_kind(series)
        long_t, short_t = thresholds(p, kind)
        prediction = PredictorIndicator(data, predictions=series)
        return ThresholdSignal(prediction, long_threshold=long_t, short_threshold=short_t)
