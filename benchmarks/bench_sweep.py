"""Sweep speed: an ``optimize`` of sma_cross with the vectorised simulator vs backtrader per trial.

    python benchmarks/bench_sweep.py [--symbols 20] [--years 10] [--trials 50] [--repeat 1]

Both searches run the same random trials (same seed) in this process, one worker, interleaved
``--repeat`` times; prints trials/second of each (CPU seconds of this process and wall seconds),
the speed-up, and checks that every timed trial has the same metrics, final value, objective
and daily returns (1e-9). Defaults: the issue's case, 50 trials over 20 symbols x 10 years.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.feeds.synthetic import generate_market
from autostock.robustness import optimize as opt
from autostock.robustness.executor import Executor


def search(spec, market, trials: int, backtrader_only: bool):
    import autostock.sim.vectorsim as vs

    original = vs.run
    if backtrader_only:
        vs.run = lambda s, m: (run_backtest(s, m), "backtrader")
    try:
        c0, w0 = time.process_time(), time.perf_counter()
        result = opt.optimize(
            spec,
            market,
            {"fast": list(range(5, 30)), "slow": list(range(31, 120))},
            method="random",
            trials=trials,
            seed=7,
            executor=Executor(workers=1, progress=False),
        )
        return result, time.process_time() - c0, time.perf_counter() - w0
    finally:
        vs.run = original


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    symbols = [f"S{i:02d}" for i in range(args.symbols)]
    market = generate_market(symbols, "2010-01-01", f"{2010 + args.years - 1}-12-31", seed=1)
    spec = RunSpec(strategy="sma_cross", symbols=symbols, commission=0.1)
    print(f"optimize sma_cross: {args.trials} random trials, {args.symbols} symbols x {len(market.dates())} bars")
    print(f"  load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    run_backtest(spec, market)  # first-use imports are not part of either search
    fast_cpu, slow_cpu, fast_wall, slow_wall = [], [], [], []
    for i in range(args.repeat):
        fast, fc, fw = search(spec, market, args.trials, backtrader_only=False)
        slow, sc, sw = search(spec, market, args.trials, backtrader_only=True)
        fast_cpu.append(fc), slow_cpu.append(sc), fast_wall.append(fw), slow_wall.append(sw)
        print(f"  run {i + 1}: vectorsim {fc:.2f}s cpu / {fw:.2f}s wall; backtrader {sc:.2f}s cpu / {sw:.2f}s wall")
        cols = ["trial", "fast", "slow", "status"]
        assert fast.table[cols].equals(slow.table[cols]), "different trials"
        assert len(fast.table) == args.trials
        numbers = [c for c in fast.table.columns if c not in cols]
        for col in numbers:
            np.testing.assert_allclose(
                fast.table[col].to_numpy(float), slow.table[col].to_numpy(float), rtol=1e-9, equal_nan=True, err_msg=col
            )
        assert fast.returns.keys() == slow.returns.keys()
        for trial, rets in fast.returns.items():
            assert rets.index.equals(slow.returns[trial].index)
            np.testing.assert_allclose(rets.to_numpy(), slow.returns[trial].to_numpy(), rtol=1e-9, atol=1e-12)
        print(
            f"  parity: all {len(fast.table)} timed trials equal to 1e-9 ({', '.join(numbers)} and every "
            f"daily return); engine: {fast.settings['engine']}"
        )
    fc, sc = statistics.median(fast_cpu), statistics.median(slow_cpu)
    fw, sw = statistics.median(fast_wall), statistics.median(slow_wall)
    n = args.trials
    print(f"vectorsim : {n / fc:.2f} trials/s cpu ({n / fw:.2f} wall)")
    print(f"backtrader: {n / sc:.2f} trials/s cpu ({n / sw:.2f} wall)")
    print(f"speed-up (trials/second): {sc / fc:.1f}x cpu, {sw / fw:.1f}x wall (target >= 10x)")
    print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
