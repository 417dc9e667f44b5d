"""PredictorIndicator: precomputed series and fitted predictors, batch once() vs per-bar next()."""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from autostock.errors import ConfigError
from autostock.feeds.synthetic import generate_market
from autostock.indicators.predictor import PredictorIndicator, nums_to_datetimes
from autostock.models.artifacts import TrainingWindow
from tests.btprobe import line_values


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return generate_market(["AAA"], "2020-01-01", "2020-12-31", seed=5).bars["AAA"]


@pytest.fixture(scope="module")
def earlier() -> pd.DataFrame:
    """Bars of the year before ``bars``: a predictor fitted on them may serve ``bars``."""
    return generate_market(["AAA"], "2019-01-01", "2019-12-31", seed=6).bars["AAA"]


def causal_features(df: pd.DataFrame) -> pd.DataFrame:
    """Log returns over 1 and 3 bars and a 5-bar volume z-score (each uses bars <= t only)."""
    logc = np.log(df["close"])
    vol = np.log(df["volume"])
    return pd.DataFrame(
        {"r1": logc.diff(), "r3": logc.diff(3), "vz": (vol - vol.rolling(5).mean()) / vol.rolling(5).std()},
        index=df.index,
    )


class LinearPredictor:
    """A real, fitted least-squares predictor (no Keras) obeying the Predictor contract."""

    context_rows = 1

    def fit(self, X: pd.DataFrame, y: pd.Series) -> LinearPredictor:
        ok = X.notna().all(axis=1) & y.notna()
        A = np.c_[X[ok].to_numpy(), np.ones(ok.sum())]
        self.coef_ = np.linalg.lstsq(A, y[ok].to_numpy(), rcond=None)[0]
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        A = np.c_[np.asarray(X, dtype=float), np.ones(len(X))]
        return A @ self.coef_


def run(df: pd.DataFrame, runonce: bool, **params) -> np.ndarray:
    return line_values(df, lambda data: PredictorIndicator(data, **params).prediction, runonce)


def test_series_predictions_are_served_on_their_dates_in_both_modes(bars):
    series = pd.Series(np.arange(len(bars), dtype=float), index=bars.index).iloc[10:-10]
    series = series.drop(series.index[5])  # a missing date serves NaN
    expected = series.reindex(bars.index).to_numpy()
    for runonce in (True, False):
        got = run(bars, runonce, predictions=series)
        np.testing.assert_array_equal(got, expected)


def test_series_with_tz_aware_dates_matches_the_bar_dates(bars):
    series = pd.Series(1.5, index=bars.index.tz_localize("America/New_York").normalize())
    assert np.all(run(bars, True, predictions=series) == 1.5)


def fitted_on(df: pd.DataFrame, rows: int) -> LinearPredictor:
    """A LinearPredictor fitted on the first ``rows`` bars of ``df`` (1-bar labels), its window recorded."""
    X = causal_features(df)
    y = np.log(df["close"]).diff().shift(-1)
    model = LinearPredictor().fit(X.iloc[:rows], y.iloc[:rows])
    model.training_window_ = TrainingWindow.from_rows(df.index, 0, rows - 1, 1)
    return model


def test_fitted_predictor_gives_the_same_values_in_batch_once_and_per_bar_next(bars, earlier):
    model = fitted_on(earlier, len(earlier) - 1)
    expected = model.predict(causal_features(bars))
    batch = run(bars, True, predictor=model, features=causal_features)
    live = run(bars, False, predictor=model, features=causal_features)
    np.testing.assert_allclose(batch, expected, rtol=1e-12, equal_nan=True)
    assert np.isfinite(batch[5:]).all()
    np.testing.assert_allclose(live, batch, rtol=1e-9, equal_nan=True)
    window = run(bars, False, predictor=model, features=causal_features, lookback=10)
    np.testing.assert_allclose(window[10:], batch[10:], rtol=1e-9, equal_nan=True)
    # a 2-bar window is shorter than the features' 5-bar warm-up: it is widened, not left NaN
    widened = run(bars, False, predictor=model, features=causal_features, lookback=2)
    np.testing.assert_allclose(widened, batch, rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize("runonce", [True, False])
def test_serving_a_predictor_on_bars_whose_labels_it_saw_is_refused_in_one_line(bars, runonce):
    model = fitted_on(bars, 120)  # row 119's label is bar 120: bars 0..120 are in-sample
    with pytest.raises(
        ConfigError,
        match=r"refusing to serve the saved predictor on bars from 2020-01-01.*"
        r"in-sample.*out-of-sample predictions of `autostock train`",
    ) as err:
        run(bars, runonce, predictor=model, features=causal_features)
    assert "\n" not in str(err.value)
    # the same predictor on the bars after its last label is served
    after = bars.iloc[121:]
    assert np.isfinite(run(after, runonce, predictor=model, features=causal_features)[5:]).all()
    with pytest.raises(ConfigError, match="in-sample"):
        run(bars.iloc[120:], runonce, predictor=model, features=causal_features)


def test_a_predictor_without_a_training_window_is_refused(bars, earlier):
    X = causal_features(earlier)
    model = LinearPredictor().fit(X, np.log(earlier["close"]).diff().shift(-1))
    with pytest.raises(ConfigError, match="records no training window"):
        run(bars, True, predictor=model, features=causal_features)
    # an explicit window is accepted in place of the attribute
    ok = run(bars, True, predictor=model, features=causal_features, training_window=earlier.index[-1])
    assert np.isfinite(ok[5:]).all()


def test_on_a_live_feed_only_bars_after_the_training_window_are_predicted(bars):
    class LiveFrame(bt.feeds.PandasData):
        def islive(self) -> bool:  # a feed replaying history then streaming, as the Alpaca feed does
            return True

    model = fitted_on(bars, 120)
    values: list[float] = []

    class Probe(bt.Strategy):
        def __init__(self) -> None:
            self.line = PredictorIndicator(self.data, predictor=model, features=causal_features).prediction

        def next(self) -> None:
            values.append(self.line[0])

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(LiveFrame(dataname=bars))
    cerebro.addstrategy(Probe)
    cerebro.run()
    served = np.array(values)
    expected = model.predict(causal_features(bars))
    assert len(served) == len(bars)
    assert np.isnan(served[:121]).all()
    np.testing.assert_allclose(served[121:], expected[121:], rtol=1e-9)


def test_keras_predictor_in_once_equals_next_and_sees_no_later_bar(bars, earlier):
    pytest.importorskip("keras")
    from autostock.models.keras_models import LSTMPredictor

    X = causal_features(earlier)
    y = np.log(earlier["close"]).diff().shift(-1)
    model = LSTMPredictor(seq_len=5, units=4, epochs=1, batch_size=64, seed=1).fit(X, y)
    model.training_window_ = earlier.index[-1]
    short = bars.iloc[:160]
    batch = run(short, True, predictor=model, features=causal_features)
    live = run(short, False, predictor=model, features=causal_features, lookback=30)
    # features are complete from row 4, so the first 5-row window ends at row 8
    assert np.isnan(batch[:8]).all() and np.isfinite(batch[8:]).all()
    np.testing.assert_allclose(live, batch, rtol=1e-5, atol=1e-7, equal_nan=True)
    truncated = run(short.iloc[:100], True, predictor=model, features=causal_features)
    np.testing.assert_allclose(truncated, batch[:100], rtol=1e-5, atol=1e-7, equal_nan=True)


def test_bar_numbers_convert_back_to_their_datetimes():
    stamps = pd.DatetimeIndex(["2020-01-02", "2021-06-30 15:30:00"])
    nums = [bt.date2num(ts.to_pydatetime()) for ts in stamps]
    assert list(nums_to_datetimes(nums)) == list(stamps)


def test_indicator_needs_exactly_one_source(bars):
    with pytest.raises(ConfigError, match="exactly one"):
        run(bars, True)
    with pytest.raises(ConfigError, match="exactly one"):
        run(bars, True, predictions=pd.Series(1.0, index=bars.index), predictor=LinearPredictor())
    with pytest.raises(ConfigError, match="duplicate"):
        run(bars, True, predictions=pd.Series(1.0, index=bars.index[[0, 0]]))
