"""Feature and walk-forward throughput (printed, never asserted).

    python benchmarks/bench_ml_features.py [--years 20] [--repeat 3]

Prints the wall time of the full feature set (196 features incl. QQQ and benchmark) on one
symbol, the time per bar, and a ridge walk-forward (train=756, test=63) with the share of its
time spent in fitting.
"""

from __future__ import annotations

import argparse
import time

from autostock.feeds.synthetic import generate_market
from autostock.models.features import compute_features
from autostock.models.sklearn_models import RidgePredictor
from autostock.models.targets import make_target
from autostock.models.walkforward import parse_walk_forward, walk_forward


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--years", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    m = generate_market(["AAPL", "QQQ"], "2000-01-01", f"{2000 + args.years - 1}-12-31", seed=1)
    bars, index = m.bars["AAPL"], m.bars["QQQ"]["close"]
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        X = compute_features(bars, "full", index, m.benchmark)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(
        f"features: {X.shape[1]} x {len(bars)} bars in {best:.3f}s (best of {args.repeat}); "
        f"{1e6 * best / len(bars):.1f} us per bar, {1e9 * best / X.size:.1f} ns per value"
    )
    y = make_target(bars["close"], "fwd_return_5")
    t0 = time.perf_counter()
    res = walk_forward(RidgePredictor, X, y, 5, parse_walk_forward("train=756,test=63"))
    wall = time.perf_counter() - t0
    print(
        f"walk-forward ridge: {len(res.folds)} folds in {wall:.2f}s; fitting {res.fit_seconds:.2f}s "
        f"({100 * res.fit_seconds / wall:.0f}% of the walk-forward)"
    )


if __name__ == "__main__":
    main()
