"""autostock vs backtesting.py vs vectorbt: ORCL sma_cross 10/30, all-in, 0.1 % commission.

Run: ``python benchmarks/compare_peers.py [path/to/orcl-1995-2014.csv]`` (needs backtesting.py;
vectorbt is used when installed). Prints each final equity and autostock's gap to each peer.

The rules are the same everywhere: long while SMA(10) > SMA(30), flat otherwise, decided at a
bar's close and filled at the next open with all the equity, 0.1 % commission on each fill.
backtesting.py calls ``next()`` first one bar after its indicators become valid (backtrader
and the vectorbt signals below act on that bar already), so it is run twice: as is, and with
its warm-up aligned (the first valid bar's signal given as "flat" instead of NaN).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.feeds import load_market

CSV = (
    Path(sys.argv[1])
    if len(sys.argv) > 1
    else Path(__file__).resolve().parents[2] / "shared" / "data" / "orcl-1995-2014.csv"
)
CASH, FEE = 100_000.0, 0.001


def backtesting_py(bars: pd.DataFrame, aligned: bool) -> float:
    from backtesting import Backtest, Strategy

    want = (bars["close"].rolling(10).mean() > bars["close"].rolling(30).mean()).astype(float)
    want[bars["close"].rolling(30).mean().isna()] = np.nan
    if aligned:
        want.iloc[28] = 0.0  # one NaN less: backtesting.py's first next() lands on the first valid bar

    class Cross(Strategy):
        def init(self) -> None:
            self.want = self.I(lambda: want.to_numpy(), name="want")

        def next(self) -> None:
            if self.want[-1] > 0 and not self.position:
                self.buy()
            elif not self.want[-1] > 0 and self.position:
                self.position.close()

    data = bars.rename(columns=str.capitalize)[["Open", "High", "Low", "Close", "Volume"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(data, Cross, cash=CASH, commission=FEE, finalize_trades=False).run()
    return float(stats["Equity Final [$]"])


def vectorbt(bars: pd.DataFrame) -> float | None:
    try:
        import vectorbt as vbt
    except ImportError:
        return None
    close = bars["close"]
    want = close.rolling(10).mean() > close.rolling(30).mean()
    entries = (want & ~want.shift(1, fill_value=False)).shift(1, fill_value=False)
    exits = (~want & want.shift(1, fill_value=False)).shift(1, fill_value=False)
    pf = vbt.Portfolio.from_signals(
        close, entries, exits, price=bars["open"], init_cash=CASH, fees=FEE, size=np.inf, size_granularity=1
    )
    return float(pf.final_value())


def main() -> None:
    market = load_market(str(CSV), None, None, None, None, 42)
    bars = market.bars[market.symbols[0]]
    spec = RunSpec(
        strategy="sma_cross", params={"fast": 10, "slow": 30}, symbols=market.symbols, commission=FEE * 100, cash=CASH
    )
    result = run_backtest(spec, market)
    ours = result.final_value
    margin = int((result.orders["status"] == "Margin").sum())
    print(
        f"autostock        final {ours:14,.2f}  ({ours / CASH - 1:+.1%})  orders {len(result.orders)}, Margin {margin}"
    )
    peers = {
        "backtesting.py": backtesting_py(bars, aligned=False),
        "backtesting.py (warm-up aligned)": backtesting_py(bars, aligned=True),
        "vectorbt": vectorbt(bars),
    }
    for name, value in peers.items():
        if value is None:
            print(f"{name:32s} not installed")
            continue
        print(
            f"{name:32s} final {value:14,.2f}  ({value / CASH - 1:+.1%})  autostock/peer - 1 = {ours / value - 1:+.3%}"
        )


if __name__ == "__main__":
    main()
