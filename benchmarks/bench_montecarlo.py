"""Monte Carlo benchmark: parallel speed-up, per-path overhead, and memory as paths grow.

Prints measured ratios (never asserted):

* speed-up of 2 workers over 1 on the same paths (target >= 1.7x on a 2-core machine);
* per-path overhead of the Monte Carlo machinery (resampling, executor, result rows) beyond the
  bare backtest of the same resampled markets (target < 10 %);
* peak memory of a Monte Carlo run with N1 vs N2 paths, each in a fresh subprocess (target: flat).

Full size (the issue's figures)::

    python benchmarks/bench_montecarlo.py --paths 200 --symbols 5 --years 5 --memory-paths 200,2000

Reduced size for a busy machine::

    python benchmarks/bench_montecarlo.py --paths 20 --symbols 5 --years 5 --memory-paths 50,500 --memory-years 1
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

SYMBOLS = ["AAPL", "MSFT", "JPM", "XOM", "JNJ", "NVDA", "BAC", "CVX", "PFE", "GOOGL"]


def _market(n_symbols: int, years: int, seed: int = 1):
    from autostock.feeds.synthetic import generate_market

    return generate_market(SYMBOLS[:n_symbols], "2015-01-01", f"{2015 + years - 1}-12-31", seed=seed)


def _burn(context: int, job: int) -> int:
    total = 0
    for k in range(context):
        total += k * k
    return total


def machine_ceiling(workers: int) -> float:
    """Speed-up of ``workers`` over 1 on pure CPU work: what this machine can give right now."""
    from autostock.robustness.executor import Executor

    timings = {}
    for w in (1, workers):
        with Executor(w, progress=False) as ex:
            t0 = time.perf_counter()
            ex.map(_burn, 2_000_000, range(4 * workers))
            timings[w] = time.perf_counter() - t0
    return timings[1] / timings[workers]


def speed(args: argparse.Namespace) -> dict:
    from autostock.config import RunSpec
    from autostock.engine import run_backtest
    from autostock.robustness.executor import Executor
    from autostock.robustness.montecarlo import BarsContext, bars_path
    from autostock.robustness.resample import resample_market

    market = _market(args.symbols, args.years)
    spec = RunSpec(strategy=args.strategy, symbols=market.symbols)
    run_backtest(spec, market)  # warm imports and caches
    ctx = BarsContext(spec, market, args.block, seed=7, sample=0)
    paths = range(args.paths)

    # bare backtests of the very same resampled markets (resampling outside the timer)
    markets = [resample_market(ctx.relative(), args.block, 7, p) for p in paths]
    t0, c0 = time.perf_counter(), time.process_time()
    bare = [run_backtest(spec, m).final_value for m in markets]
    bare_s, bare_cpu = time.perf_counter() - t0, time.process_time() - c0
    del markets

    timings, cpu = {}, {}
    for workers in (1, args.workers):
        with Executor(workers, progress=False) as ex:
            t0, c0 = time.perf_counter(), time.process_time()
            out = ex.map(bars_path, ctx, paths)
            timings[workers], cpu[workers] = time.perf_counter() - t0, time.process_time() - c0
        assert [r[0]["final_value"] for r in out.results] == bare, "Monte Carlo paths differ from bare runs"
    return {
        "paths": args.paths,
        "symbols": args.symbols,
        "years": args.years,
        "bars": len(ctx.relative().dates),
        "bare_backtest_s_per_path": bare_s / args.paths,
        "mc_1_worker_s_per_path": timings[1] / args.paths,
        f"mc_{args.workers}_workers_s_per_path": timings[args.workers] / args.paths,
        "speedup": timings[1] / timings[args.workers],
        "per_path_overhead_pct": 100 * (timings[1] - bare_s) / bare_s,
        "machine_ceiling": machine_ceiling(args.workers),
        # 1 worker runs in this process, so CPU time compares like with like on a busy machine
        "per_path_overhead_cpu_pct": 100 * (cpu[1] - bare_cpu) / bare_cpu,
    }


def memory_child(paths: int, n_symbols: int, years: int, workers: int, strategy: str) -> None:
    """Run one Monte Carlo and print the peak RSS of this process and of its workers (JSON)."""
    from autostock.config import RunSpec
    from autostock.robustness.executor import Executor
    from autostock.robustness.montecarlo import run_montecarlo

    market = _market(n_symbols, years)
    spec = RunSpec(strategy=strategy, symbols=market.symbols)
    with Executor(workers, progress=False) as ex:
        result = run_montecarlo(spec, market, paths=paths, block=20, seed=3, sample=100, executor=ex)
    print(
        json.dumps(
            {
                "paths": len(result.table),
                "parent_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "worker_max_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            }
        )
    )


def memory(args: argparse.Namespace) -> list[dict]:
    out = []
    for n in args.memory_paths:
        cmd = [
            sys.executable,
            __file__,
            "--memory-child",
            str(n),
            "--symbols",
            str(args.memory_symbols),
            "--memory-years",
            str(args.memory_years),
            "--workers",
            str(args.workers),
            "--strategy",
            args.strategy,
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["wall_s"] = time.perf_counter() - t0
        out.append(row)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--paths", type=int, default=200)
    p.add_argument("--symbols", type=int, default=5)
    p.add_argument("--years", type=int, default=5)
    p.add_argument("--block", type=float, default=20.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--strategy", default="sma_cross")
    p.add_argument(
        "--memory-paths",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[200, 2000],
        help="Path counts for the memory comparison; empty to skip.",
    )
    p.add_argument("--memory-symbols", type=int, default=None, help="[default: --symbols]")
    p.add_argument("--memory-years", type=int, default=None, help="[default: --years]")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.memory_symbols = args.memory_symbols or args.symbols
    args.memory_years = args.memory_years or args.years
    if args.memory_child:
        memory_child(args.memory_child, args.memory_symbols, args.memory_years, args.workers, args.strategy)
        return
    if not args.skip_speed:
        s = speed(args)
        print(
            f"Monte Carlo speed: {s['paths']} paths, {s['symbols']} symbols x {s['years']} years ({s['bars']} bars), {args.strategy}"
        )
        print(f"  bare backtest          {s['bare_backtest_s_per_path'] * 1000:8.1f} ms/path")
        print(f"  Monte Carlo, 1 worker  {s['mc_1_worker_s_per_path'] * 1000:8.1f} ms/path")
        print(f"  Monte Carlo, {args.workers} workers {s[f'mc_{args.workers}_workers_s_per_path'] * 1000:8.1f} ms/path")
        print(
            f"  speed-up {args.workers} workers / 1: {s['speedup']:.2f}x (target >= 1.7x on 2 cores); "
            f"pure-CPU control on this machine now: {s['machine_ceiling']:.2f}x"
        )
        print(
            f"  per-path overhead beyond the bare backtest: {s['per_path_overhead_pct']:.1f} % wall, "
            f"{s['per_path_overhead_cpu_pct']:.1f} % CPU time (target < 10 %)"
        )
    if args.memory_paths:
        rows = memory(args)
        print(
            f"Monte Carlo memory ({args.memory_symbols} symbols x {args.memory_years} years, {args.workers} workers, 100 curves kept):"
        )
        for r in rows:
            print(
                f"  {r['paths']:6d} paths: parent max RSS {r['parent_max_rss_mb']:7.1f} MB, worker max RSS {r['worker_max_rss_mb']:7.1f} MB, "
                f"{r['wall_s']:.0f} s"
            )
        a, b = rows[0], rows[-1]
        print(
            f"  ratio {b['paths']} / {a['paths']} paths: parent RSS {b['parent_max_rss_mb'] / a['parent_max_rss_mb']:.2f}x, "
            f"worker RSS {b['worker_max_rss_mb'] / a['worker_max_rss_mb']:.2f}x (target: flat, ~1x)"
        )


if __name__ == "__main__":
    main()
