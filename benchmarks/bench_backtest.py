"""Overhead of autostock over a bare backtrader script on the same feed (``FrameFeed``).

    python benchmarks/bench_backtest.py [--symbols 20] [--years 10] [--repeat 3] [--orcl PATH] [--skip-process]

Prints, each from interleaved runs and their medians (``--repeat``, at least 3):

1. engine only: ``run_backtest`` (Cerebro builder, fill-sized percent sizer, recorder, metrics)
   vs a bare backtrader script, both in this process, on the same ``FrameFeed`` (CPU seconds);
2. whole process, default outputs (summary, CSVs, equity chart, QuantStats tearsheet, pyfolio
   files): ``python -m autostock.cli backtest`` vs ``python benchmarks/bench_backtest.py --bare``
   (a script that reads the same CSVs with pandas and runs backtrader), on 20 symbols x 10
   years and on ORCL 1 symbol x 20 years; wall seconds and CPU seconds (the process and its
   workers). sma_cross 10/30 everywhere; the synthetic CSVs are written to a temporary folder;
3. the import floor of ``autostock backtest`` (``python -X importtime``, ORCL, summary only).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import backtrader as bt
import pandas as pd

from autostock.feeds.btfeed import FrameFeed

HERE = Path(__file__).resolve()
ORCL = HERE.parents[2] / "shared" / "data" / "orcl-1995-2014.csv"


class BareSmaCross(bt.Strategy):
    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        self.sig = {
            d: bt.indicators.SMA(d.close, period=self.p.fast) > bt.indicators.SMA(d.close, period=self.p.slow)
            for d in self.datas
        }
        self.orders = {}

    def notify_order(self, order) -> None:
        if not order.alive():
            self.orders.pop(order.data, None)

    def next(self) -> None:
        for d in self.datas:
            if d in self.orders:
                continue
            pos = self.getposition(d).size
            if self.sig[d][0] and not pos:
                size = int(min(self.broker.getvalue() / len(self.datas), self.broker.getcash()) * 0.99 // d.close[0])
                if size > 0:
                    self.orders[d] = self.buy(data=d, size=size)
            elif not self.sig[d][0] and pos:
                self.orders[d] = self.close(data=d)


def bare(bars: dict[str, pd.DataFrame], commission: float = 0.0) -> float:
    cerebro = bt.Cerebro(stdstats=False)
    for sym, df in bars.items():
        cerebro.adddata(FrameFeed(dataname=df, name=sym))
    cerebro.addstrategy(BareSmaCross)
    cerebro.broker.setcash(100_000.0)
    cerebro.broker.setcommission(commission=commission / 100)
    cerebro.run()
    return cerebro.broker.getvalue()


def bare_script(path: str, commission: float) -> None:
    """What a user's bare backtrader script does: read the CSVs, run, print the final value."""
    files = sorted(Path(path).glob("*.csv")) if Path(path).is_dir() else [Path(path)]
    bars = {}
    for f in files:
        df = pd.read_csv(f, index_col=0, parse_dates=True)
        df.columns = [c.lower().replace(" ", "_") for c in df.columns]
        bars[f.stem] = df
    print(bare(bars, commission))


def child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd: list[str]) -> tuple[float, float]:
    c0, w0 = child_cpu(), time.perf_counter()
    subprocess.run(
        cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "MPLBACKEND": "Agg"}
    )
    return time.perf_counter() - w0, child_cpu() - c0


def engine_ratio(market, repeat: int) -> None:
    from autostock.config import RunSpec
    from autostock.engine import run_backtest

    spec = RunSpec(strategy="sma_cross", symbols=market.symbols)
    run_backtest(spec, market)  # first-use imports are not part of a run
    tb, te = [], []
    for i in range(repeat):
        c = time.process_time()
        bare(market.bars)
        tb.append(time.process_time() - c)
        c = time.process_time()
        run_backtest(spec, market)
        te.append(time.process_time() - c)
        print(f"  engine run {i + 1}: bare {tb[-1]:.2f}s  run_backtest {te[-1]:.2f}s  ({te[-1] / tb[-1]:.3f}x)")
    ratios = [e / b for e, b in zip(te, tb)]
    print(
        f"ENGINE ONLY  run_backtest / bare backtrader (same FrameFeed, CPU s): median {statistics.median(te):.2f}s / "
        f"{statistics.median(tb):.2f}s = {statistics.median(te) / statistics.median(tb):.3f}x  "
        f"(per-pair ratios {min(ratios):.3f}..{max(ratios):.3f}; target <= 1.10x)"
    )


def process_ratio(label: str, data: str, repeat: int, commission: float, target: float) -> None:
    with tempfile.TemporaryDirectory() as out:
        auto = [
            sys.executable,
            "-m",
            "autostock.cli",
            "backtest",
            "--data",
            data,
            "--commission",
            str(commission),
            "-o",
            out,
        ]
        base = [sys.executable, str(HERE), "--bare", data, "--commission", str(commission)]
        rows = []
        for i in range(repeat):
            wb, cb = timed(base)
            wa, ca = timed(auto)
            rows.append((wb, cb, wa, ca))
            print(
                f"  {label} run {i + 1}: bare {wb:.2f}s wall / {cb:.2f}s cpu   autostock {wa:.2f}s wall / {ca:.2f}s cpu"
            )
    wb, cb, wa, ca = (statistics.median(r[k] for r in rows) for k in range(4))
    print(
        f"WHOLE PROCESS {label}, default outputs: wall {wa:.2f}s / {wb:.2f}s = {wa / wb:.2f}x, "
        f"cpu {ca:.2f}s / {cb:.2f}s = {ca / cb:.2f}x (target <= {target}x)"
    )


def _import_seconds(cmd: list[str]) -> float:
    """Sum of the top-level cumulative import times that ``python -X importtime`` reports."""
    err = subprocess.run([sys.executable, "-X", "importtime", *cmd], check=True, capture_output=True, text=True).stderr
    total = 0
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)  # one space: a top-level import
        if m and not m.group(2).startswith(" "):
            total += int(m.group(1))
    return total / 1e6


def import_floor(data: str, repeat: int) -> None:
    """What ``autostock backtest --outputs summary`` imports before and while it runs (no report
    library: those load only in the processes that draw reports), against the bare script."""
    with tempfile.TemporaryDirectory() as out:
        auto = ["-m", "autostock.cli", "backtest", "--data", data, "--outputs", "summary", "-o", out]
        base = [str(HERE), "--bare", data]
        rows = [(_import_seconds(base), _import_seconds(auto)) for _ in range(repeat)]
    b, a = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
    print(
        f"IMPORT FLOOR  autostock backtest (python -X importtime, top-level imports): median {a:.2f}s "
        f"(bare script {b:.2f}s; runs {', '.join(f'{r[1]:.2f}' for r in rows)}; target <= 1.0 s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--orcl", default=str(ORCL))
    ap.add_argument("--skip-process", action="store_true")
    ap.add_argument("--bare", help=argparse.SUPPRESS)
    ap.add_argument("--commission", type=float, default=0.0)
    args = ap.parse_args()
    if args.bare:
        bare_script(args.bare, args.commission)
        return
    from autostock.feeds.synthetic import generate_market

    symbols = [f"S{i:02d}" for i in range(args.symbols)]
    market = generate_market(symbols, "2010-01-01", f"{2010 + args.years - 1}-12-31", seed=1)
    print(f"{args.symbols} symbols x {len(market.dates())} bars, repeat {args.repeat}, {os.cpu_count()} cores")
    engine_ratio(market, args.repeat)
    if args.skip_process:
        return
    if Path(args.orcl).exists():
        import_floor(args.orcl, args.repeat)
    with tempfile.TemporaryDirectory() as folder:
        for sym, df in market.bars.items():
            df.to_csv(Path(folder) / f"{sym}.csv", index_label="date")
        process_ratio(f"{args.symbols} symbols x {args.years} years", folder, args.repeat, 0.0, 1.5)
    if Path(args.orcl).exists():
        process_ratio("ORCL 1 symbol x 20 years", args.orcl, args.repeat, 0.1, 2.5)
    else:
        print(f"ORCL case skipped: {args.orcl} not found")


if __name__ == "__main__":
    main()
