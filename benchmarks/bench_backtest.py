"""Overhead of `autostock backtest` over a bare backtrader script running the same strategy.

sma_cross (10/30) on 20 synthetic symbols x 10 years of daily bars, equal weight, no costs.
Both run in this process, interleaved, ``--repeat`` times; the medians are compared.

    python benchmarks/bench_backtest.py [--symbols 20] [--years 10] [--repeat 5]

A first untimed run pays the one-off imports. Prints the wall-time ratio of the engine's run (``run_backtest``: Cerebro builder, recorder,
QuantStats metrics) over the bare script, and separately the cost of writing the reports.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import backtrader as bt

from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.feeds.btfeed import FrameFeed
from autostock.feeds.synthetic import generate_market


class BareSmaCross(bt.Strategy):
    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        self.sig = {d: bt.indicators.SMA(d.close, period=self.p.fast) > bt.indicators.SMA(d.close, period=self.p.slow)
                    for d in self.datas}
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
                size = int(min(self.broker.getvalue() / len(self.datas), self.broker.getcash()) // d.close[0])
                if size > 0:
                    self.orders[d] = self.buy(data=d, size=size)
            elif not self.sig[d][0] and pos:
                self.orders[d] = self.close(data=d)


def bare(market, frame_feed: bool = False) -> float:
    cerebro = bt.Cerebro(stdstats=False)
    for sym, df in market.bars.items():
        if frame_feed:
            cerebro.adddata(FrameFeed(dataname=df, name=sym))
        else:
            cerebro.adddata(bt.feeds.PandasData(dataname=df, name=sym, openinterest=None))
    cerebro.addstrategy(BareSmaCross)
    cerebro.broker.setcash(100_000.0)
    cerebro.run()
    return cerebro.broker.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    symbols = [f"S{i:02d}" for i in range(args.symbols)]
    market = generate_market(symbols, "2010-01-01", f"{2010 + args.years - 1}-12-31", seed=1)
    spec = RunSpec(strategy="sma_cross", symbols=symbols)
    print(f"{args.symbols} symbols x {len(market.dates())} bars, repeat {args.repeat}")
    run_backtest(spec, market)  # warm-up: first-use imports (QuantStats) are not part of a run
    t_bare, t_frame, t_engine = [], [], []
    for i in range(args.repeat):
        t0 = time.perf_counter()
        bare(market)
        t1 = time.perf_counter()
        result = run_backtest(spec, market)
        t2 = time.perf_counter()
        bare(market, frame_feed=True)
        t3 = time.perf_counter()
        t_bare.append(t1 - t0)
        t_engine.append(t2 - t1)
        t_frame.append(t3 - t2)
        print(f"  run {i + 1}: bare(PandasData) {t1 - t0:.2f}s  autostock {t2 - t1:.2f}s  bare(FrameFeed) {t3 - t2:.2f}s")
    from autostock.reports.writer import write_outputs

    with tempfile.TemporaryDirectory() as tmp:
        t3 = time.perf_counter()
        write_outputs(result, tmp, tearsheet=True)
        t_reports = time.perf_counter() - t3
    mb, me = statistics.median(t_bare), statistics.median(t_engine)
    print(f"median bare backtrader: {mb:.2f}s")
    print(f"median autostock run_backtest: {me:.2f}s")
    mf = statistics.median(t_frame)
    print(f"ratio autostock / bare backtrader script (PandasData): {me / mb:.3f}x (target <= 1.15x)")
    print(f"ratio autostock / bare script on autostock's FrameFeed (engine overhead alone): {me / mf:.3f}x")
    print(f"writing reports (summary, CSVs, chart, QuantStats tearsheet): {t_reports:.2f}s once per run")


if __name__ == "__main__":
    main()
