"""Throughput of tick-to-bar aggregation and microstructure features on one million synthetic trades.

Prints ticks per second (median of interleaved repeats) for each bar type, for quotes onto
bars, and for the quotes + trades + volume_profile feature groups on the resulting bars, and
the peak traced Python memory (tracemalloc) of one full pass.

    python benchmarks/bench_ticks.py [--trades 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trades", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from autostock.feeds.bars import quotes_to_bars, trades_to_bars
    from autostock.feeds.synthetic_micro import generate_micro
    from autostock.models.features import compute_features

    per_bar = 40
    t0 = time.perf_counter()
    data = generate_micro("SYN", args.trades // per_bar, 42, trades_per_bar=per_bar, with_alt=False)
    trades, quotes = data.trades, data.quotes
    print(f"generated {len(trades):,} trades and {len(quotes):,} quotes in {time.perf_counter() - t0:.1f} s")

    specs = ("time=5min", "tick=500", "volume=20000", "dollar=2e6")
    timings: dict[str, list[float]] = {s: [] for s in specs}
    timings["quotes onto 5min bars"] = []
    timings["features quotes+trades+volume_profile"] = []
    bars5 = trades_to_bars(trades, "time=5min")
    full = bars5.join(quotes_to_bars(quotes, bars5.index))
    for _ in range(args.repeats):  # interleaved: every case once per round
        for s in specs:
            t = time.perf_counter()
            trades_to_bars(trades, s)
            timings[s].append(time.perf_counter() - t)
        t = time.perf_counter()
        quotes_to_bars(quotes, bars5.index)
        timings["quotes onto 5min bars"].append(time.perf_counter() - t)
        t = time.perf_counter()
        compute_features(full, "quotes,trades,volume_profile")
        timings["features quotes+trades+volume_profile"].append(time.perf_counter() - t)

    print(f"\n{'step':<40}{'median s':>10}{'ticks/s':>14}")
    for name, ts in timings.items():
        med = statistics.median(ts)
        n = len(quotes) if name.startswith("quotes") else len(trades)
        print(f"{name:<40}{med:>10.3f}{n / med:>14,.0f}")
    print(f"(bars: {len(bars5):,} five-minute bars; features on them, rate per underlying trade)")

    tracemalloc.start()
    b = trades_to_bars(trades, "dollar=2e6")
    b = b.join(quotes_to_bars(quotes, b.index))
    compute_features(b, "quotes,trades,volume_profile")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = trades.memory_usage(deep=True).sum() + quotes.memory_usage(deep=True).sum()
    print(
        f"\npeak traced memory of dollar bars + quotes + features: {peak / 2**20:,.0f} MiB "
        f"(input tables {size / 2**20:,.0f} MiB)"
    )


if __name__ == "__main__":
    main()
