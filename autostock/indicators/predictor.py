"""Serve model predictions inside backtrader.

:class:`PredictorIndicator` never trains. It is fed either

* ``predictions``: a precomputed out-of-sample ``pd.Series`` indexed by bar date (the output of
  walk-forward training), looked up bar by bar; or
* ``predictor`` (a fitted Predictor) and ``features`` (a callable ``DataFrame -> X`` whose rows
  are aligned with the OHLCV rows it is given): in a backtest (``runonce=True``) the whole
  series is predicted in ONE batch call in ``once()``; with live data (or ``runonce=False``)
  ``next()`` predicts the newest bar from the bars seen so far.

No look-ahead: the value at bar t depends only on bars <= t (the features must be causal, which
``autostock.models.features`` guarantees and tests).

No in-sample serving: a fitted ``predictor`` must say which bars it learnt from (its
``training_window_``, attached by walk-forward training and by
:meth:`autostock.models.artifacts.TrainedModel.model`, or the ``training_window`` param). On a
historical feed (backtest, Monte Carlo path, walk-forward fold) a feed holding any bar on or
before the window's ``label_end`` is refused with one line (``ConfigError``); on a live feed
those bars (the replayed history) get NaN and only later bars are predicted.
"""

from __future__ import annotations

from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from autostock.errors import ConfigError

OHLCV = ("open", "high", "low", "close", "volume")
_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal(): backtrader's date numbers are ordinals


def nums_to_datetimes(nums: Any) -> pd.DatetimeIndex:
    """Backtrader date numbers (``bt.date2num``) to a naive ``DatetimeIndex``.

    A float day number holds about 10 microseconds of precision, so times are rounded to the
    millisecond.
    """
    days = np.asarray(nums, dtype="float64") - _EPOCH_ORDINAL
    index = pd.to_datetime(np.round(days * 86_400_000).astype("int64"), unit="ms")
    return pd.DatetimeIndex(index)


def _label_end(window: Any) -> pd.Timestamp:
    """The last bar a predictor's training labels reached: a TrainingWindow or a timestamp."""
    value = getattr(window, "label_end", window)
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"training_window must be a TrainingWindow or a timestamp, got {window!r}") from None
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def in_sample_error(name: str, window: Any, first_bar: pd.Timestamp) -> ConfigError:
    """The one-line refusal to serve a predictor on bars whose labels it was trained on."""
    end = _label_end(window)
    fitted = (
        f"fitted on bars {pd.Timestamp(window.first_bar).date()}..{pd.Timestamp(window.last_bar).date()} "
        f"with {window.horizon}-bar labels, so it saw every bar up to {end}"
        if hasattr(window, "last_bar")
        else f"trained on labels reaching {end}"
    )
    return ConfigError(
        f"{name}: refusing to serve the saved predictor on bars from {first_bar} (in-sample): it was {fitted}; "
        f"use the out-of-sample predictions of `autostock train` (ml_signal model=DIR without serve=model), "
        f"or a model trained on an earlier period and data starting after {end}"
    )


class _SeriesLookup:
    """Map bar datetimes to values of a prediction series (by date when the series is daily)."""

    def __init__(self, series: pd.Series) -> None:
        if not isinstance(series, pd.Series):
            raise ConfigError(f"predictions must be a pandas Series indexed by date, got {type(series).__name__}")
        index = pd.DatetimeIndex(pd.to_datetime(series.index))
        if index.tz is not None:
            index = index.tz_localize(None)  # exchange wall time, like the bars' naive index
        if index.has_duplicates:
            raise ConfigError(f"predictions index has duplicate dates, e.g. {index[index.duplicated()][0]}")
        self.by_date = bool(len(index)) and bool((index == index.normalize()).all())
        self.series = pd.Series(np.asarray(series, dtype="float64"), index=index)

    def keys(self, when: pd.DatetimeIndex) -> pd.DatetimeIndex:
        return when.normalize() if self.by_date else when

    def values(self, nums: Any) -> np.ndarray:
        return self.series.reindex(self.keys(nums_to_datetimes(nums))).to_numpy(dtype="float64")


class PredictorIndicator(bt.Indicator):
    """Model prediction per bar (line ``prediction``; NaN where no prediction exists).

    Params
    ------
    predictions : pd.Series | None
        Precomputed out-of-sample predictions indexed by date (daily dates match the bar's
        calendar date; intraday timestamps match exactly).
    predictor : Predictor | None
        A fitted predictor (``predict(X) -> np.ndarray``), used with ``features``.
    features : callable | None
        ``features(ohlcv_df) -> X`` (DataFrame or 2-D array, one row per bar, causal). ``None``
        feeds the raw OHLCV columns.
    training_window : TrainingWindow | timestamp | None
        The bars the ``predictor`` learnt from (default: its ``training_window_``); required
        with ``predictor``. Historical bars on or before its ``label_end`` are refused (see the
        module docstring).
    bar_columns : callable | None
        ``bar_columns(symbol, index) -> DataFrame``: extra per-bar columns (live news, the run
        context's ``bar_columns``) joined onto the OHLCV bars before ``features`` sees them.
    lookback : int | None
        Bars handed to ``features`` per live ``next()`` call; ``None`` hands all bars so far
        (exactly the batch values). A window should cover the features' warm-up plus the
        predictor's ``context_rows``; while a prediction comes out NaN with more bars
        available, the window is doubled (and kept) until it does not.
    """

    lines = ("prediction",)
    # a walk-forward model's prediction depends on all the history it was trained on, by design
    # (``autostock lookahead`` checks it for look-ahead, not for warm-up dependence)
    history_dependent = True
    params = (
        ("predictions", None),
        ("predictor", None),
        ("features", None),
        ("lookback", None),
        ("training_window", None),
        ("bar_columns", None),
    )
    plotinfo = dict(subplot=True)

    def __init__(self) -> None:
        p = self.p
        if (p.predictions is None) == (p.predictor is None):
            raise ConfigError("PredictorIndicator needs exactly one of predictions= (a Series) or predictor=")
        if p.features is not None and not callable(p.features):
            raise ConfigError(f"features must be a callable DataFrame -> X, got {type(p.features).__name__}")
        if p.lookback is not None and int(p.lookback) < 1:
            raise ConfigError(f"lookback must be >= 1 bars, got {p.lookback}")
        self._lookup = _SeriesLookup(p.predictions) if p.predictions is not None else None
        self._context = int(getattr(p.predictor, "context_rows", 1) or 1) if p.predictor is not None else 1
        self._lookback: int | None = None  # widened when a lookback window proves too short
        self._window: Any = None
        self._label_end: pd.Timestamp | None = None
        if p.predictor is not None:
            self._window = (
                p.training_window if p.training_window is not None else getattr(p.predictor, "training_window_", None)
            )
            if self._window is None:
                raise ConfigError(
                    f"{self._name()}: the predictor records no training window, so it cannot be shown not to "
                    "predict bars it was trained on; load it with autostock.models.artifacts.load_artifacts "
                    "(trained by `autostock train`) or pass training_window=<last bar its labels reached>"
                )
            self._label_end = _label_end(self._window)
            if not self.data.islive():
                nums = self.data.datetime.array
                if len(nums):
                    self._refuse_from(nums_to_datetimes(nums[:1])[0])

    def _name(self) -> str:
        return getattr(self.data, "_name", "") or "data"

    def _refuse_from(self, first_bar: pd.Timestamp) -> None:
        if self._label_end is not None and first_bar <= self._label_end:
            raise in_sample_error(self._name(), self._window, first_bar)

    # -- helpers --------------------------------------------------------------------------
    def _frame(self, count: int, ago_end: bool) -> pd.DataFrame:
        """OHLCV DataFrame of bars: the last ``count`` (``ago_end``) or the first ``count``."""
        d = self.data
        if ago_end:
            cols = {name: np.asarray(getattr(d, name).get(size=count), dtype="float64") for name in OHLCV}
            nums = d.datetime.get(size=count)
        else:
            cols = {name: np.asarray(getattr(d, name).array[:count], dtype="float64") for name in OHLCV}
            nums = d.datetime.array[:count]
        frame = pd.DataFrame(cols, index=nums_to_datetimes(nums).rename("date"))
        from autostock.context import join_bar_columns

        return join_bar_columns(frame, self.p.bar_columns, self._name())

    def _predict_frame(self, df: pd.DataFrame, tail: int | None) -> np.ndarray:
        X = self.p.features(df) if self.p.features is not None else df
        if len(X) != len(df):
            raise ValueError(f"features returned {len(X)} rows for {len(df)} bars: rows must align with bars")
        if tail is not None and tail < len(X):
            X = X.iloc[-tail:] if hasattr(X, "iloc") else np.asarray(X)[-tail:]
        return np.asarray(self.p.predictor.predict(X), dtype="float64").reshape(-1)

    # -- backtrader -----------------------------------------------------------------------
    def once(self, start: int, end: int) -> None:
        out = self.lines.prediction.array  # type: ignore[attr-defined]
        if end <= start:
            return
        if self._lookup is not None:
            values = self._lookup.values(self.data.datetime.array[start:end])
        else:
            self._refuse_from(nums_to_datetimes(self.data.datetime.array[start : start + 1])[0])
            values = self._predict_frame(self._frame(end, ago_end=False), None)[start:end]
        for i, v in zip(range(start, end), values):
            out[i] = v

    def next(self) -> None:
        if self._lookup is not None:
            self.lines.prediction[0] = float(self._lookup.values([self.data.datetime[0]])[0])  # type: ignore[attr-defined]
            return
        now = nums_to_datetimes([self.data.datetime[0]])[0]
        if self._label_end is not None and now <= self._label_end:
            if not self.data.islive():
                raise in_sample_error(self._name(), self._window, now)
            self.lines.prediction[0] = float("nan")  # type: ignore[attr-defined]  # replayed history the predictor learnt from
            return
        seen = len(self.data)
        if seen < self._context:
            self.lines.prediction[0] = float("nan")  # type: ignore[attr-defined]
            return
        if self.p.lookback is None:
            count = seen
        else:
            count = min(seen, max(self._lookback or int(self.p.lookback), self._context))
        value = float(self._predict_frame(self._frame(count, ago_end=True), self._context)[-1])
        while value != value and count < seen:
            # the window is shorter than the features' warm-up plus the model's context: widen it
            count = min(seen, 2 * count)
            self._lookback = count
            value = float(self._predict_frame(self._frame(count, ago_end=True), self._context)[-1])
        self.lines.prediction[0] = value  # type: ignore[attr-defined]
