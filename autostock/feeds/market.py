"""Market: validated OHLCV bars for a set of symbols plus a benchmark, ready for any mode."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from autostock.errors import DataError

COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


@dataclass
class Market:
    """Bars per symbol (DatetimeIndex named ``date``, float columns open/high/low/close/volume).

    ``benchmark`` is a close-price series for metrics (alpha/beta, tearsheet); it is never traded.
    ``notes`` carries facts a report must state (adjusted prices, gaps, synthetic origin).
    """

    bars: dict[str, pd.DataFrame]
    source: str
    benchmark: pd.Series | None = None
    benchmark_symbol: str | None = None
    synthetic: bool = False
    notes: list[str] = field(default_factory=list)
    gaps: list[dict] = field(default_factory=list)
    sectors: dict[str, str] = field(default_factory=dict)

    @property
    def symbols(self) -> list[str]:
        return list(self.bars)

    @property
    def label(self) -> str:
        return f"SYNTHETIC data ({self.source})" if self.synthetic else self.source

    def dates(self) -> pd.DatetimeIndex:
        idx = pd.DatetimeIndex([])
        for df in self.bars.values():
            idx = idx.union(df.index)
        return idx

    def slice(self, start: str | pd.Timestamp | None, end: str | pd.Timestamp | None) -> Market:
        """Bars between ``start`` and ``end`` inclusive; a symbol left empty is an error."""
        s = pd.Timestamp(start) if start is not None else None
        e = pd.Timestamp(end) if end is not None else None
        if s is not None and e is not None and s > e:
            raise DataError(f"start {s.date()} is after end {e.date()}")
        bars = {}
        for sym, df in self.bars.items():
            part = df.loc[s:e]
            if part.empty:
                first, last = df.index[0].date(), df.index[-1].date()
                raise DataError(
                    f"{sym}: no bars between {s.date() if s is not None else 'start'} and "
                    f"{e.date() if e is not None else 'end'} (data covers {first} to {last})"
                )
            bars[sym] = part
        bench = self.benchmark.loc[s:e] if self.benchmark is not None else None
        gaps = [
            g
            for g in self.gaps
            if (s is None or pd.Timestamp(g["to"]) >= s) and (e is None or pd.Timestamp(g["from"]) <= e)
        ]
        return replace(self, bars=bars, benchmark=bench, gaps=gaps)

    def select(self, symbols: list[str]) -> Market:
        missing = [s for s in symbols if s not in self.bars]
        if missing:
            raise DataError(f"symbol(s) {', '.join(missing)} not in {self.source}; available: {', '.join(self.bars)}")
        return replace(self, bars={s: self.bars[s] for s in symbols})


EQUAL_WEIGHT = "equal-weight"
EQUAL_WEIGHT_SYMBOL = "EQUAL_WEIGHT"


def is_equal_weight(benchmark: str | None) -> bool:
    """Whether ``--benchmark`` asks for the equal-weight basket of the loaded symbols."""
    return benchmark is not None and benchmark.strip().lower() == EQUAL_WEIGHT


def with_equal_weight_benchmark(market: Market) -> Market:
    """``market`` whose benchmark is the equal-weight basket of its symbols, rebalanced every bar:
    ``exp(cumsum(mean_i log(C_i,t / C_i,t-1)))`` over the symbols that trade on both bars (the
    construction of the ``+sectors`` baskets). Causal: bar t uses closes up to t only."""
    closes = pd.DataFrame({s: df["close"] for s, df in market.bars.items()}).reindex(market.dates())
    logret = np.log(closes.astype(float)).diff().mean(axis=1, skipna=True)
    basket = np.exp(logret.fillna(0.0).cumsum()).rename(EQUAL_WEIGHT_SYMBOL)
    note = f"benchmark: equal-weight basket of the loaded symbols ({', '.join(market.symbols)}), rebalanced every bar"
    return replace(market, benchmark=basket, benchmark_symbol=EQUAL_WEIGHT_SYMBOL, notes=market.notes + [note])
