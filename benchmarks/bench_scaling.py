"""Cost per symbol and peak memory of one ``run_backtest``, beside the bare backtrader script's
cost per symbol on the same market (run after it in the same process, so its memory is not shown).

for n in 20 40 80; do python benchmarks/bench_scaling.py $n; done
"""

from __future__ import annotations

import resource
import sys
import time

from bench_backtest import bare

from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.feeds.synthetic import generate_market


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    symbols = [f"S{i:02d}" for i in range(n)]
    market = generate_market(symbols, "2010-01-01", "2019-12-31", seed=1)
    spec = RunSpec(strategy="sma_cross", symbols=symbols)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    c = time.process_time()
    run_backtest(spec, market)
    t = time.process_time() - c
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    c = time.process_time()
    bare(market.bars)
    tb = time.process_time() - c
    print(
        f"{n} symbols: {t:.2f}s cpu, {t / n * 1000:.1f} ms/symbol, peak RSS {peak / 1024:.0f} MiB "
        f"(before run {base / 1024:.0f} MiB); bare backtrader {tb:.2f}s cpu, {tb / n * 1000:.1f} ms/symbol"
    )


if __name__ == "__main__":
    main()
