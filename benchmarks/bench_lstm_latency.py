"""Benchmark: latency of one live ``next()`` prediction of a 64-unit LSTM over 20 steps.

Runs a backtrader backtest with ``runonce=False`` (every bar goes through ``next()``, as with
live data) where :class:`~autostock.indicators.predictor.PredictorIndicator` serves a fitted
``lstm`` predictor (64 units, ``seq_len`` 20) on causal features recomputed over a ``lookback``
window, and times each ``next()`` call. Also timed: the bare ``predictor.predict`` of one window
(no features, no backtrader). The first ``--warmup`` calls (graph tracing) are left out.

Usage::

    python benchmarks/bench_lstm_latency.py                # 300 live bars, 60-bar lookback
    python benchmarks/bench_lstm_latency.py --bars 1000 --features basic --lookback 300

Target: median under 20 ms on this CPU. Prints the measurements; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def summary(label: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"{label:46s} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   n={len(ms)}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bars", type=int, default=300, help="bars run through next() after the fit window")
    ap.add_argument(
        "--features",
        default="ret_1,ret_5,ret_20,ret_1_lag_1,ret_1_lag_2",
        help="feature set or names (autostock.models.features)",
    )
    ap.add_argument(
        "--lookback", type=int, default=60, help="bars handed to the features per next() (cover warm-up + 20)"
    )
    ap.add_argument("--warmup", type=int, default=10)
    args = ap.parse_args(argv)

    import backtrader as bt
    import numpy as np

    from autostock.feeds.synthetic import generate_market
    from autostock.indicators.predictor import PredictorIndicator
    from autostock.models.artifacts import TrainingWindow
    from autostock.models.features import compute_features
    from autostock.models.keras_models import LSTMPredictor
    from autostock.models.targets import make_target

    bars = generate_market(["LAT"], "2010-01-01", "2024-12-31", seed=2).bars["LAT"]
    fit_rows = 500
    bars = bars.iloc[: fit_rows + args.bars]
    features = lambda df: compute_features(df, args.features)  # noqa: E731
    X = features(bars)
    y = make_target(bars["close"], "fwd_return_5")
    model = LSTMPredictor(units=64, seq_len=20, epochs=1, seed=0).fit(X.iloc[:fit_rows], y.iloc[:fit_rows])
    # the bars it learnt from (labels reach 5 bars past the last fitted row) get no prediction
    model.training_window_ = TrainingWindow.from_rows(bars.index, 0, fit_rows - 1, 5)
    print(f"model: LSTM 64 units over 20 steps, {X.shape[1]} features ({args.features}); lookback {args.lookback} bars")

    # bare predictor call on one window (the newest 20 rows)
    windows = [X.iloc[i - 20 + 1 : i + 1] for i in range(fit_rows, len(X))]
    bare = []
    for i, w in enumerate(windows):
        t0 = time.perf_counter()
        model.predict(w)
        if i >= args.warmup:
            bare.append(time.perf_counter() - t0)

    calls: list[float] = []

    class TimedPredictor(PredictorIndicator):
        def next(self) -> None:
            t0 = time.perf_counter()
            super().next()
            if len(self.data) > fit_rows + args.warmup:
                calls.append(time.perf_counter() - t0)

    class Probe(bt.Strategy):
        def __init__(self) -> None:
            self.pred = TimedPredictor(self.data, predictor=model, features=features, lookback=args.lookback)

    class LiveFrame(bt.feeds.PandasData):
        """Replays history like a live feed: bars up to the training window's end get NaN."""

        def islive(self) -> bool:
            return True

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(LiveFrame(dataname=bars))
    cerebro.addstrategy(Probe)
    t0 = time.perf_counter()
    strat = cerebro.run(runonce=False)[0]
    total = time.perf_counter() - t0
    live = np.asarray(strat.pred.prediction.array[fit_rows:], dtype=float)

    print(summary("predictor.predict(one 20-row window)", bare))
    print(summary("PredictorIndicator.next() (features + predict)", calls))
    print(
        f"whole runonce=False backtest of {len(bars)} bars: {total:.2f}s; "
        f"finite live predictions: {int(np.isfinite(live).sum())}/{len(live)}"
    )
    print(f"target: median next() < 20 ms -> {'met' if statistics.median(calls) < 0.020 else 'NOT met'}")


if __name__ == "__main__":
    main()
