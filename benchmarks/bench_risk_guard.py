"""Cost of the risk layer: a momentum backtest over the synthetic universe with and without
risk settings (guard + stops + kill switch + exposure analyzer), same data, same strategy.

    python benchmarks/bench_risk_guard.py --symbols 80 --years 3 --repeat 3

Prints seconds per run for each configuration and their ratio (best of ``--repeat``).
"""

from __future__ import annotations

import argparse
import time

import autostock.sizers.risk_sizers  # noqa: F401
from autostock import universe
from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.feeds.synthetic import generate_market

FULL_RISK = {
    "sector_caps": True,
    "max_leverage": 1.0,
    "max_position_weight": 0.1,
    "stop_loss": 0.05,
    "take_profit": 0.15,
    "max_drawdown": 0.5,
    "correlation_limit": 0.8,
}


def best_of(repeat: int, spec: RunSpec, market) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_backtest(spec, market)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=80)
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    symbols = [a.symbol for a in universe.load_universe()][: args.symbols]
    market = generate_market(
        symbols, "2015-01-01", f"{2015 + args.years - 1}-12-31", seed=1, sectors=universe.sectors_for(symbols)
    )
    base = RunSpec(
        strategy="momentum",
        params={"lookback": 60, "top_n": 15, "rebalance": 10},
        symbols=symbols,
        sizer="equal_weight",
    )
    run_backtest(base.replace(end=market.dates()[60].date().isoformat()), market)  # warm-up: imports, caches
    plain = best_of(args.repeat, base, market)
    guarded = best_of(args.repeat, base.replace(risk=dict(FULL_RISK)), market)
    bars = len(market.dates())
    print(f"{len(symbols)} symbols x {bars} bars, best of {args.repeat}")
    print(f"no risk settings : {plain:.2f} s")
    print(f"full risk layer  : {guarded:.2f} s")
    print(f"overhead ratio   : {guarded / plain:.2f}x")


if __name__ == "__main__":
    main()
