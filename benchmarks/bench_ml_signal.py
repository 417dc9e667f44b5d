"""Benchmark: the cost of serving model predictions inside a backtest.

(1) ``ml_signal`` over precomputed out-of-sample predictions vs ``sma_cross`` on the same data
    (target: at most 2x the wall time of sma_cross);
(2) the same backtest with one Keras call per bar (the saved LSTM predicts each bar in
    ``next()``, features recomputed on a ``lookback`` window), for comparison. One call per bar is
    slow, so by default it runs on the first ``--live-bars`` bars only and the per-bar cost is
    extrapolated to the full series; the printout says so.
Also printed: the saved model served in ONE batch call in ``once()`` (``serve=model``,
runonce), which is what a backtest of a saved model costs.

Usage::

    python benchmarks/bench_ml_signal.py                 # 10 years of synthetic daily bars, 1 symbol
    python benchmarks/bench_ml_signal.py --symbols 5 --repeat 5 --live-bars 400

Prints measured wall times and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FEATURES = "ret_1,ret_5,ret_20,ret_1_lag_1,ret_1_lag_2"


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--symbols", type=int, default=1, help="synthetic symbols (default 1)")
    ap.add_argument("--start", default="2015-01-01")
    ap.add_argument("--end", default="2024-12-31")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing; the median is printed")
    ap.add_argument(
        "--live-bars",
        type=int,
        default=300,
        help="bars run with one Keras call per bar; the rest is extrapolated (0: all bars)",
    )
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=20)
    args = ap.parse_args(argv)

    import pandas as pd

    import autostock.models.keras_models  # noqa: F401  (registers lstm; imports no Keras yet)
    import autostock.strategies.ml_signal  # noqa: F401  (registers ml_signal)
    from autostock.config import RunSpec
    from autostock.engine import build_cerebro, run_backtest
    from autostock.feeds.synthetic import generate_market
    from autostock.models.artifacts import TrainingWindow, save_artifacts
    from autostock.models.features import compute_features
    from autostock.models.keras_models import LSTMPredictor
    from autostock.models.targets import make_target

    symbols = [f"S{i:02d}" for i in range(args.symbols)]
    market = generate_market(symbols, args.start, args.end, seed=1)
    n_bars = len(market.dates())
    print(f"data: {args.symbols} synthetic symbol(s) x {n_bars} daily bars ({args.start} .. {args.end})")

    # one small LSTM per symbol, fitted on the first 40% of bars (training cost is not measured)
    t0 = time.perf_counter()
    models, preds, windows = {}, {}, {}
    for sym, bars in market.bars.items():
        X = compute_features(bars, FEATURES)
        y = make_target(bars["close"], "fwd_return_5")
        cut = int(len(X) * 0.4)
        model = LSTMPredictor(seq_len=args.seq_len, units=args.units, epochs=2, seed=1).fit(X.iloc[:cut], y.iloc[:cut])
        models[sym] = model
        windows[sym] = TrainingWindow.from_rows(bars.index, 0, cut - 1, 5)
        preds[sym] = pd.Series(model.predict(X), index=bars.index)
    folder = Path(tempfile.mkdtemp(prefix="bench_ml_signal_")) / "lstm"
    save_artifacts(
        folder, {"model": "lstm", "target": "fwd_return_5", "features": list(X.columns)}, {}, preds, models, windows
    )
    # the saved predictors may only serve the bars after their training window (in-sample is refused)
    after = max(w.label_end for w in windows.values())
    market = market.slice(market.dates()[market.dates() > after][0], None)
    n_bars = len(market.dates())
    print(f"timed on the {n_bars} bars after the models' training window")
    print(
        f"setup: fitted and saved {len(models)} LSTM(s) ({args.units} units, seq_len {args.seq_len}) "
        f"in {time.perf_counter() - t0:.1f}s (not part of any timing)"
    )

    sma = RunSpec(strategy="sma_cross")
    pre = RunSpec(strategy="ml_signal", params={"model": str(folder)})
    served = RunSpec(strategy="ml_signal", params={"model": str(folder), "serve": "model"})
    run_backtest(sma, market)  # warm imports and caches
    t_sma = timed(lambda: run_backtest(sma, market), args.repeat)
    t_pre = timed(lambda: run_backtest(pre, market), args.repeat)
    t_batch = timed(lambda: run_backtest(served, market), args.repeat)

    live_bars = n_bars if args.live_bars <= 0 else min(args.live_bars, n_bars)
    sub = market.slice(None, market.dates()[live_bars - 1])
    live = served.replace(params={**served.params, "lookback": 60})
    t_live = timed(lambda: build_cerebro(live, sub).run(runonce=False), 1)
    per_bar = t_live / live_bars
    t_live_full = per_bar * n_bars
    t_pre_sub = timed(lambda: build_cerebro(pre, sub).run(runonce=False), 1)

    orders = {name: len(run_backtest(spec, market).orders) for name, spec in (("sma", sma), ("pre", pre))}

    print()
    print(f"orders: sma_cross {orders['sma']}, ml_signal {orders['pre']} (order handling is part of each run)")
    print(f"(1) sma_cross backtest                         {t_sma:8.3f} s  (median of {args.repeat})")
    print(
        f"    ml_signal, precomputed OOS predictions     {t_pre:8.3f} s  ratio to sma_cross {t_pre / t_sma:5.2f}x "
        f"(target <= 2x)"
    )
    print(
        f"    ml_signal, saved LSTM in one batch (once)  {t_batch:8.3f} s  ratio to sma_cross {t_batch / t_sma:5.2f}x"
    )
    extrapolated = "measured" if live_bars == n_bars else f"EXTRAPOLATED from {live_bars} measured bars"
    print(
        f"(2) ml_signal, one Keras call per bar (next)   {t_live_full:8.3f} s  ({extrapolated}; "
        f"{per_bar * 1000:.2f} ms/bar/{args.symbols} symbol(s), features on a 60-bar lookback)"
    )
    print(
        f"    ratio to precomputed ml_signal             {t_live_full / t_pre:8.1f}x "
        f"(same {live_bars} bars, both runonce=False: {t_live / t_pre_sub:.1f}x)"
    )
    print(f"    ratio to sma_cross                         {t_live_full / t_sma:8.1f}x")


if __name__ == "__main__":
    main()
