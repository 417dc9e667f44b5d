"""Trade the out-of-sample predictions of any model: long / short / flat by threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from autostock.errors import ConfigError
from autostock.indicators.predictor import OHLCV, PredictorIndicator, nums_to_datetimes
from autostock.registry import STRATEGIES
from autostock.strategies.base import SignalStrategy

KINDS = ("auto", "return", "log_return", "probability")
SERVE = ("auto", "predictions", "model")


def load_model_predictions(model: str | Path, symbol: str) -> pd.Series:
    """Out-of-sample predictions of ``symbol`` from a model directory written by ``autostock train``."""
    from autostock.models.artifacts import load_predictions

    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"model {str(model)!r} is neither a model directory nor a registered predictor "
            "(train one with `autostock train --out DIR`)"
        )
    return load_predictions(folder, symbol)


def feed_bars(data: Any) -> pd.DataFrame:
    """The OHLCV bars a preloaded backtrader feed holds, as a DataFrame indexed by date."""
    n = len(data.close.array)
    if n == 0:
        raise ConfigError(f"{data._name or 'data'}: no preloaded history (a live feed)")
    cols = {c: np.asarray(getattr(data, c).array[:n], dtype="float64") for c in OHLCV}
    return pd.DataFrame(cols, index=nums_to_datetimes(data.datetime.array[:n]).rename("date"))


def walk_forward_predictions(bars: pd.DataFrame, p: Any) -> pd.Series:
    """Train the registered predictor ``p.model`` walk-forward on ``bars`` and return its
    out-of-sample predictions (NaN before the first test bar). Runs before ``cerebro.run``."""
    from autostock.config import parse_pairs
    from autostock.models.features import compute_features
    from autostock.models.targets import make_target, parse_target
    from autostock.models.training import predictor_factory
    from autostock.models.walkforward import parse_walk_forward, walk_forward

    target = parse_target(p.target)
    params = parse_pairs(
        [s.strip() for s in str(p.model_params or "").split(",") if s.strip()], "ml_signal model_params item"
    )
    factory, _ = predictor_factory(p.model, params, target, int(p.seed))
    X = compute_features(bars, p.features)
    y = make_target(bars["close"], target)
    series = walk_forward(factory, X, y, target.horizon, parse_walk_forward(p.walk_forward)).predictions
    series.attrs["prediction_kind"] = target.prediction_kind
    return series


def is_predictor_name(model: str) -> bool:
    from autostock.registry import PREDICTORS

    return bool(model) and not Path(model).expanduser().exists() and model in PREDICTORS


def recorded_kind(model: str | Path) -> str:
    """The prediction kind a model directory's params.json records (see
    :func:`autostock.models.artifacts.prediction_kind`)."""
    from autostock.models.artifacts import load_artifacts, prediction_kind

    return prediction_kind(load_artifacts(model).params)


def series_kind(series: pd.Series) -> str:
    """The kind a prediction series carries in ``attrs['prediction_kind']`` (``return`` if none)."""
    from autostock.models.targets import PREDICTION_KINDS

    kind = str(series.attrs.get("prediction_kind", "return"))
    if kind not in PREDICTION_KINDS:
        raise ConfigError(f"prediction series kind {kind!r}: expected one of {', '.join(PREDICTION_KINDS)}")
    return kind


def trained_before_run(params: dict[str, Any], market: Any, symbols: list[str]) -> dict[str, Any]:
    """``params`` of one ml_signal whose ``model`` names a registered predictor, with that
    predictor trained walk-forward on each symbol's bars (before the run) and its out-of-sample
    predictions in ``predictions``; any other params are returned unchanged."""
    model = str(params.get("model") or "")
    if params.get("predictions") is not None or not is_predictor_name(model):
        return params
    p = MLSignal.param_namespace(**params)
    preds = {sym: walk_forward_predictions(market.bars[sym], p) for sym in symbols if sym in market.bars}
    return params | {"predictions": preds}  # model kept: the summary says what was trained


def tuned_facts(param_sets: list[dict[str, Any]], market: Any) -> dict[str, Any]:
    """Facts a report must state about the models these ml_signal params serve: whether any
    model's params were tuned on a period overlapping the run's bars (``tuned_on_overlap``)."""
    from autostock.models.artifacts import load_artifacts, period_overlap, tuned_overlap_warning

    dirs = [
        str(ps["model"])
        for ps in param_sets
        if ps.get("model") and ps.get("predictions") is None and Path(str(ps["model"])).expanduser().is_dir()
    ]
    if not dirs:
        return {}
    dates = market.dates()
    notes, overlapping = [], False
    for folder in dirs:
        tuned_on = load_artifacts(folder).params.get("tuned_on")
        overlap = period_overlap(tuned_on, dates[0], dates[-1]) if len(dates) else None
        if overlap is not None and tuned_on:
            overlapping = True
            notes.append(f"WARNING: model {folder}: " + tuned_overlap_warning(tuned_on, overlap, "this backtest"))
    return {"metrics": {"tuned_on_overlap": overlapping}, "notes": notes}


def thresholds(p: Any, kind: str) -> tuple[float, float]:
    """(long, short) thresholds: the params, or 0/0 for returns and 0.5/0.5 for probabilities."""
    centre = 0.5 if kind == "probability" else 0.0  # a return or log return: its sign
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
        self.lines.signal = (self.data > self.p.long_threshold) - (self.data < self.p.short_threshold)  # type: ignore[attr-defined]


@STRATEGIES.register("ml_signal")
class MLSignal(SignalStrategy):
    """Long / short / flat from a model's out-of-sample prediction of each bar.

    Formula: ``signal = +1 if pred > long_threshold; -1 if pred < short_threshold; else 0``;
    ``-1`` is flat unless ``allow_short``. Predictions are forward (log) returns (thresholds
    default to 0) or up-probabilities (thresholds default to 0.5); ``kind`` says which, ``auto``
    reads the ``prediction_kind`` the model directory records
    (:func:`autostock.models.artifacts.prediction_kind`) or a series' ``attrs`` (``return`` when
    absent). Sizing is the sizer's job, so any sizer works. The strategy never trains.

    Params:

    * ``model``: a model directory written by ``autostock train`` (its precomputed walk-forward
      predictions are served, nothing trains), or a registered predictor name (``lstm``,
      ``ridge``, ...), which :func:`autostock.engine.run_backtest` trains walk-forward on each
      symbol's bars BEFORE the run (:meth:`MLSignal.before_run`; out-of-sample only;
      ``target``, ``features``, ``walk_forward``, ``model_params``, ``seed`` configure it);
    * ``predictions``: instead of ``model``, a ``pd.Series`` indexed by date or a dict symbol ->
      Series (programmatic use);
    * ``serve``: ``auto`` (precomputed predictions, or the saved predictor on a live feed),
      ``predictions``, or ``model`` (the directory's saved predictor predicts each bar from
      features computed on the feed; one batch in backtests, the newest bar in live ``next()``;
      refused on any historical bar whose label it was trained on, see
      :class:`~autostock.indicators.predictor.PredictorIndicator`);
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
    def before_run(cls, spec: Any, market: Any) -> Any:
        """``spec`` with a ``model=<predictor name>`` trained walk-forward before the run."""
        symbols = list(spec.symbols or market.symbols)
        params = dict(spec.params)
        trained = trained_before_run(params, market, symbols)
        return spec if trained is params else spec.replace(params=trained)

    @classmethod
    def run_facts(cls, spec: Any, market: Any) -> dict[str, Any]:
        """``tuned_on_overlap`` (and a warning note) for a model directory tuned on these bars."""
        return tuned_facts([dict(spec.params)], market)

    @classmethod
    def predictions_for(cls, data: Any, p: Any) -> pd.Series:
        """The precomputed out-of-sample predictions for ``data``."""
        symbol = data._name or "data0"
        if p.predictions is not None:
            if isinstance(p.predictions, pd.Series):
                return p.predictions
            if isinstance(p.predictions, dict):
                if symbol not in p.predictions:
                    raise ConfigError(
                        f"ml_signal predictions have no series for {symbol}; have: {', '.join(map(str, p.predictions))}"
                    )
                return p.predictions[symbol]
            raise ConfigError(
                f"ml_signal predictions must be a Series or a dict of Series, got {type(p.predictions).__name__}"
            )
        if not p.model:
            raise ConfigError("ml_signal needs model=<model directory or predictor name> (or predictions=)")
        if is_predictor_name(p.model):
            raise ConfigError(
                f"ml_signal model={p.model} names a predictor, and a strategy never trains: run it through "
                "autostock.engine.run_backtest (backtest, optimize, walkforward and montecarlo train it "
                "walk-forward before the run), or train it with `autostock train --model "
                f"{p.model} --out DIR` and pass model=DIR"
            )
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
        if use_model:
            if not is_dir:
                raise ConfigError("ml_signal serve=model needs model=<a model directory written by autostock train>")
            from autostock.models.artifacts import load_artifacts, prediction_kind

            trained = load_artifacts(p.model)
            predictor = trained.model(data._name or "data0")
            extra = getattr(getattr(p, "context", None), "bar_columns", None)  # live news, when the run has it
            line = PredictorIndicator(  # type: ignore[call-arg]
                data, predictor=predictor, features=trained.features, lookback=int(p.lookback), bar_columns=extra
            )
            return line, p.kind if p.kind != "auto" else prediction_kind(trained.params)
        series = cls.predictions_for(data, p)
        kind = p.kind
        if kind == "auto":
            kind = recorded_kind(p.model) if is_dir else series_kind(series)
        return PredictorIndicator(data, predictions=series), kind  # type: ignore[call-arg]

    @classmethod
    def signal(cls, data: Any, p: Any) -> Any:
        prediction, kind = cls.prediction_line(data, p)
        long_t, short_t = thresholds(p, kind)
        return ThresholdSignal(prediction, long_threshold=long_t, short_threshold=short_t)  # type: ignore[call-arg]
