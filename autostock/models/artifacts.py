"""A trained model directory: what ``autostock train`` writes and a backtest reads.

Layout::

    models/NAME/
        params.json               model name and params, target, feature names, walk-forward
                                  settings, data source, symbols, index / benchmark symbols
        metrics.json              out-of-sample metrics per symbol and pooled, with baselines
        models/<SYMBOL>/          the predictor fitted on the most recent training window
                                  (``predictor.save``), for serving new bars
        predictions/<SYMBOL>.parquet
                                  the walk-forward out-of-sample prediction per bar (column
                                  ``prediction``, NaN before the first test bar), so that a
                                  backtest uses precomputed predictions and never trains

A predictor is loaded with ``PREDICTORS.get(params['model']).load(folder)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.errors import DataError, UserError

PARAMS_FILE = "params.json"
METRICS_FILE = "metrics.json"
MODELS_DIR = "models"
PREDICTIONS_DIR = "predictions"
BEST_PARAMS_FILE = "best_params.json"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, (pd.Timestamp,)):
        return obj.isoformat()
    return obj


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON (NaN/inf become null)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=False, default=str) + "\n")
    return p


def save_artifacts(
    out: str | Path,
    params: dict[str, Any],
    metrics: dict[str, Any],
    predictions: dict[str, pd.Series],
    models: dict[str, Any] | None = None,
) -> Path:
    """Write a trained model directory (see the module docstring); return its path."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / PARAMS_FILE, params)
    write_json(folder / METRICS_FILE, metrics)
    for symbol, model in (models or {}).items():
        model.save(folder / MODELS_DIR / symbol)
    (folder / PREDICTIONS_DIR).mkdir(exist_ok=True)
    for symbol, series in predictions.items():
        frame = pd.DataFrame({"prediction": series.astype(float)})
        frame.index.name = "date"
        frame.to_parquet(folder / PREDICTIONS_DIR / f"{symbol}.parquet")
    return folder


@dataclass
class TrainedModel:
    """A loaded model directory; predictors are loaded on first use."""

    path: Path
    params: dict[str, Any]
    metrics: dict[str, Any]
    _models: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def symbols(self) -> list[str]:
        return sorted(p.stem for p in (self.path / PREDICTIONS_DIR).glob("*.parquet"))

    @property
    def feature_names(self) -> list[str]:
        return list(self.params.get("features", []))

    def predictions(self, symbol: str) -> pd.Series:
        """The out-of-sample prediction per bar for ``symbol`` (NaN before the first test bar)."""
        return load_predictions(self.path, symbol)

    def model(self, symbol: str) -> Any:
        """The predictor fitted on the most recent training window for ``symbol``."""
        if symbol not in self._models:
            from autostock.registry import PREDICTORS

            folder = self.path / MODELS_DIR / symbol
            if not folder.exists():
                have = sorted(p.name for p in (self.path / MODELS_DIR).glob("*")) if (self.path / MODELS_DIR).exists() else []
                raise DataError(f"{self.path}: no fitted model for {symbol}; have: {', '.join(have) or 'none'}")
            self._models[symbol] = PREDICTORS.get(self.params["model"]).load(folder)
        return self._models[symbol]

    def features(self, bars: pd.DataFrame, index: pd.Series | None = None,
                 benchmark: pd.Series | None = None) -> pd.DataFrame:
        """The model's feature columns computed on ``bars`` (same names and order as in training)."""
        from autostock.models.features import compute_features

        return compute_features(bars, ",".join(self.feature_names), index, benchmark)[self.feature_names]

    def predict_bars(self, symbol: str, bars: pd.DataFrame, index: pd.Series | None = None,
                     benchmark: pd.Series | None = None) -> pd.Series:
        """Predict every bar of ``bars`` with the saved (most recent) predictor, e.g. for live data."""
        X = self.features(bars, index, benchmark)
        return pd.Series(self.model(symbol).predict(X.to_numpy(dtype=float)), index=bars.index, name="prediction")


def load_predictions(path: str | Path, symbol: str) -> pd.Series:
    """The precomputed out-of-sample predictions of ``symbol`` from a model directory."""
    folder = Path(path)
    file = folder / PREDICTIONS_DIR / f"{symbol}.parquet"
    if not file.is_file():
        have = sorted(p.stem for p in (folder / PREDICTIONS_DIR).glob("*.parquet"))
        raise DataError(f"{folder}: no predictions for {symbol}; have: {', '.join(have) or 'none'}")
    frame = pd.read_parquet(file)
    series = frame["prediction"].astype(float)
    series.index = pd.DatetimeIndex(series.index, name="date")
    return series


def load_artifacts(path: str | Path) -> TrainedModel:
    """Open a model directory written by :func:`save_artifacts` (``autostock train``)."""
    folder = Path(path).expanduser()
    if not (folder / PARAMS_FILE).is_file():
        raise UserError(f"{path}: not a trained model directory (no {PARAMS_FILE}); run `autostock train --out {path}`")
    params = json.loads((folder / PARAMS_FILE).read_text())
    metrics_file = folder / METRICS_FILE
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    return TrainedModel(folder, params, metrics)
