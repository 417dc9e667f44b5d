"""A trained model directory: what ``autostock train`` writes and a backtest reads.

Layout::

    models/NAME/
        params.json               model name and params, target, feature names, walk-forward
                                  settings, data source, symbols, index / benchmark symbols
        metrics.json              out-of-sample metrics per symbol and pooled, with baselines
        models/<SYMBOL>/          the predictor fitted on the most recent training window
                                  (``predictor.save``), for serving new bars, and
                                  ``training_window.json``: the first and last bar of that
                                  window, the label horizon and the last bar a training label
                                  reached (also in params.json under ``training_window``)
        predictions/<SYMBOL>.parquet
                                  the walk-forward out-of-sample prediction per bar (column
                                  ``prediction``, NaN before the first test bar), so that a
                                  backtest uses precomputed predictions and never trains

A predictor is loaded with ``PREDICTORS.get(params['model']).load(folder)``;
:meth:`TrainedModel.model` attaches its :class:`TrainingWindow` as ``training_window_`` so that
:class:`autostock.indicators.predictor.PredictorIndicator` refuses to serve it on any bar whose
label it saw (a backtest of the saved predictor over its own training bars is in-sample).
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
WINDOW_FILE = "training_window.json"


@dataclass(frozen=True)
class TrainingWindow:
    """The bars a fitted predictor learnt from.

    ``first_bar`` / ``last_bar`` are the first and last rows it was fitted (or validated) on;
    row ``last_bar`` carries the label of the ``horizon`` bars after it, so the predictor has
    seen data up to ``label_end`` (the bar ``horizon`` bars after ``last_bar``). A prediction
    for any bar on or before ``label_end`` is in-sample.
    """

    first_bar: pd.Timestamp
    last_bar: pd.Timestamp
    horizon: int
    label_end: pd.Timestamp

    @classmethod
    def from_rows(cls, index: pd.Index, first: int, last: int, horizon: int) -> TrainingWindow:
        """The window of rows ``first..last`` (inclusive) of ``index`` with label ``horizon``."""
        n = len(index)
        if not 0 <= first <= last < n:
            raise ValueError(f"training rows {first}..{last} outside an index of {n} bars")
        return cls(
            pd.Timestamp(index[first]),
            pd.Timestamp(index[last]),
            int(horizon),
            pd.Timestamp(index[min(last + int(horizon), n - 1)]),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingWindow:
        try:
            return cls(
                pd.Timestamp(data["first_bar"]),
                pd.Timestamp(data["last_bar"]),
                int(data["horizon"]),
                pd.Timestamp(data["label_end"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"training window record {data!r} is incomplete ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_bar": self.first_bar.isoformat(),
            "last_bar": self.last_bar.isoformat(),
            "horizon": self.horizon,
            "label_end": self.label_end.isoformat(),
        }

    def saw(self, when: pd.Timestamp) -> bool:
        """Whether the predictor saw the label (or the bar itself) of the bar at ``when``."""
        return pd.Timestamp(when) <= self.label_end


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
    windows: dict[str, TrainingWindow] | None = None,
) -> Path:
    """Write a trained model directory (see the module docstring); return its path.

    ``windows`` holds the :class:`TrainingWindow` of each saved predictor; a predictor saved
    without one cannot be served by ``serve=model`` in a backtest.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    windows = dict(windows or {})
    missing = sorted(set(models or {}) - set(windows))
    if missing:
        raise ValueError(f"save_artifacts: no training window for the saved predictor(s) of {', '.join(missing)}")
    params = {**params, "training_window": {s: w.to_dict() for s, w in windows.items()}}
    write_json(folder / PARAMS_FILE, params)
    write_json(folder / METRICS_FILE, metrics)
    for symbol, model in (models or {}).items():
        model.save(folder / MODELS_DIR / symbol)
        write_json(folder / MODELS_DIR / symbol / WINDOW_FILE, windows[symbol].to_dict())
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

    def training_window(self, symbol: str) -> TrainingWindow | None:
        """The bars the saved predictor of ``symbol`` learnt from (None for an old directory)."""
        file = self.path / MODELS_DIR / symbol / WINDOW_FILE
        if file.is_file():
            return TrainingWindow.from_dict(json.loads(file.read_text()))
        record = (self.params.get("training_window") or {}).get(symbol)
        return TrainingWindow.from_dict(record) if record else None

    def model(self, symbol: str) -> Any:
        """The predictor fitted on the most recent training window for ``symbol``.

        Its :class:`TrainingWindow` is attached as ``training_window_`` (None when the
        directory predates the record), which the predictor indicator checks before serving.
        """
        if symbol not in self._models:
            from autostock.registry import PREDICTORS

            folder = self.path / MODELS_DIR / symbol
            if not folder.exists():
                have = (
                    sorted(p.name for p in (self.path / MODELS_DIR).glob("*"))
                    if (self.path / MODELS_DIR).exists()
                    else []
                )
                raise DataError(f"{self.path}: no fitted model for {symbol}; have: {', '.join(have) or 'none'}")
            predictor = PREDICTORS.get(self.params["model"]).load(folder)
            predictor.training_window_ = self.training_window(symbol)
            self._models[symbol] = predictor
        return self._models[symbol]

    def features(
        self, bars: pd.DataFrame, index: pd.Series | None = None, benchmark: pd.Series | None = None
    ) -> pd.DataFrame:
        """The model's feature columns computed on ``bars`` (same names and order as in training)."""
        from autostock.models.features import compute_features

        return compute_features(bars, ",".join(self.feature_names), index, benchmark)[self.feature_names]

    def predict_bars(
        self, symbol: str, bars: pd.DataFrame, index: pd.Series | None = None, benchmark: pd.Series | None = None
    ) -> pd.Series:
        """Predict every bar of ``bars`` with the saved (most recent) predictor, e.g. for live data.

        No check here: bars on or before ``training_window(symbol).label_end`` are in-sample.
        """
        X = self.features(bars, index, benchmark)
        return pd.Series(self.model(symbol).predict(X.to_numpy(dtype=float)), index=bars.index, name="prediction")


TUNING_PERIOD_FILE = "tuning_period.json"
TUNED_SCORE_NOTE = (
    "the best of {n} trial(s), selected on these same CV folds: biased upward (optimistic), "
    "not an out-of-sample estimate"
)


def period_overlap(period: dict[str, Any] | None, first: Any, last: Any) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The dates a tuning ``period`` (``{"first_bar", "last_bar"}``) shares with ``first..last``."""
    if not period or not period.get("first_bar") or not period.get("last_bar"):
        return None
    lo = max(pd.Timestamp(period["first_bar"]), pd.Timestamp(first))
    hi = min(pd.Timestamp(period["last_bar"]), pd.Timestamp(last))
    return (lo, hi) if lo <= hi else None


def tuned_overlap_warning(period: dict[str, Any], overlap: tuple[pd.Timestamp, pd.Timestamp], what: str) -> str:
    """One line naming the overlap of a tuning period with ``what`` (training data, a backtest)."""
    return (
        f"params tuned on {pd.Timestamp(period['first_bar']).date()}..{pd.Timestamp(period['last_bar']).date()} "
        f"overlap {what} on {overlap[0].date()}..{overlap[1].date()}: results on those bars are in-sample for "
        "the params (tune on an earlier period with `autostock tune --end`)"
    )


def prediction_kind(params: dict[str, Any]) -> str:
    """What a model directory's predictions are: ``return``, ``log_return`` or ``probability``.

    The one reader of that fact: ``params.json`` records ``prediction_kind`` (written by
    :func:`autostock.models.training.train` from the parsed target); a directory without it
    derives it from its ``target``. A directory with neither is refused.
    """
    from autostock.models.targets import PREDICTION_KINDS, parse_target

    kind = params.get("prediction_kind")
    if kind is None:
        if not params.get("target"):
            raise DataError(
                "model params.json records neither prediction_kind nor target; retrain it with "
                "`autostock train` or pass ml_signal kind=return|log_return|probability"
            )
        return parse_target(params["target"]).prediction_kind
    if kind not in PREDICTION_KINDS:
        raise DataError(f"model params.json prediction_kind {kind!r}: expected one of {', '.join(PREDICTION_KINDS)}")
    return str(kind)


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
