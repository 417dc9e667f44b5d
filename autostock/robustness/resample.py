"""Resampled markets for Monte Carlo: a stationary block bootstrap of daily bars, and trade-P&L
shuffles.

Bars mode
---------
Each day ``t >= 1`` of every series becomes a *relative bar* measured against the previous
close::

    o_t / c_{t-1},  h_t / c_{t-1},  l_t / c_{t-1},  c_t / c_{t-1},  volume_t

The stationary bootstrap of Politis & Romano (1994) (``arch.bootstrap.StationaryBootstrap``:
blocks of geometric length with mean ``block``, wrapping circularly) draws one sequence of day
indices, and that SAME sequence is applied to every symbol and to the benchmark, so the
cross-asset correlation of each day survives. A path is rebuilt from the first original bar by
chaining the drawn relative bars: ``c_t = c_{t-1} * (c/c_prev)[idx_t]`` and open/high/low are
the drawn ratios times the new previous close. Multiplying one valid bar's prices by the same
positive number keeps ``low <= open, close <= high``, so every rebuilt bar is valid. The path
keeps the original calendar.

Trades mode
-----------
:func:`resample_trade_pnl` shuffles (permutation: same final value, another order, so another
drawdown) or bootstraps (draws with replacement) the realised P&L of one backtest's trades.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import numpy as np
import pandas as pd

from autostock.errors import ConfigError, DataError
from autostock.feeds.market import COLUMNS, Market

TRADE_METHODS: tuple[str, ...] = ("shuffle", "bootstrap")


def path_rng(seed: int, path: int) -> np.random.Generator:
    """The generator of Monte Carlo path ``path``: depends only on (seed, path), never on the
    executor, the number of workers or the number of paths."""
    if path < 0:
        raise ConfigError(f"path index must be >= 0, got {path}")
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(path)])


def common_calendar(market: Market) -> pd.DatetimeIndex:
    """Dates on which every symbol (and the benchmark, when present) has a bar."""
    idx: pd.DatetimeIndex | None = None
    for df in market.bars.values():
        idx = df.index if idx is None else idx.intersection(df.index)
    if market.benchmark is not None and idx is not None:
        idx = idx.intersection(market.benchmark.dropna().index)
    if idx is None or len(idx) < 3:
        raise DataError(
            f"{market.label}: need at least 3 dates shared by all symbols to resample, got "
            f"{0 if idx is None else len(idx)}"
        )
    return idx.sort_values()


class RelativeBars:
    """The relative bars of a market on its common calendar, computed once and reused by every
    path (a worker builds this once from the base data, not once per path).

    Parameters
    ----------
    market : Market
        The historical market. Symbols must share their dates (the common calendar is used).
    """

    def __init__(self, market: Market) -> None:
        self.market = market
        self.dates = common_calendar(market)
        self.symbols = list(market.bars)
        n = len(self.dates)
        # ratios[s] has shape (n - 1, 4): open/high/low/close over the previous close
        self.first: dict[str, np.ndarray] = {}
        self.ratios: dict[str, np.ndarray] = {}
        self.volume: dict[str, np.ndarray] = {}
        for sym, df in market.bars.items():
            frame = df.loc[self.dates, list(COLUMNS)].to_numpy(dtype=float)
            prev_close = frame[:-1, 3]
            if not np.all(prev_close > 0):
                bad = self.dates[:-1][~(prev_close > 0)][0]
                raise DataError(
                    f"{sym}: close must be > 0 to resample, got {prev_close[~(prev_close > 0)][0]} on {bad.date()}"
                )
            self.first[sym] = frame[0]
            self.ratios[sym] = frame[1:, :4] / prev_close[:, None]
            self.volume[sym] = frame[1:, 4]
        self.bench_first: float | None = None
        self.bench_ratio: np.ndarray | None = None
        if market.benchmark is not None:
            b = market.benchmark.loc[self.dates].to_numpy(dtype=float)
            self.bench_first = float(b[0])
            self.bench_ratio = b[1:] / b[:-1]
        self.n = n
        self.dropped = len(market.dates()) - n

    def indices(self, block: float, rng: np.random.Generator) -> np.ndarray:
        """One stationary-bootstrap draw of ``n - 1`` relative-bar indices (mean block ``block``)."""
        from arch.bootstrap import StationaryBootstrap

        if not (block >= 1):
            raise ConfigError(f"mean block length must be >= 1, got {block}")
        bs = StationaryBootstrap(block, np.arange(self.n - 1), seed=rng)  # type: ignore[arg-type]  # arch takes a real mean block length
        return np.asarray(bs.update_indices(), dtype=np.int64)

    def build(self, idx: np.ndarray, note: str = "") -> Market:
        """Rebuild a market from the relative bars at ``idx`` (same indices for every series)."""
        bars: dict[str, pd.DataFrame] = {}
        for sym in self.symbols:
            r = self.ratios[sym][idx]
            first = self.first[sym]
            close = first[3] * np.cumprod(r[:, 3])
            prev_close = np.concatenate([[first[3]], close[:-1]])
            out = np.empty((self.n, 5))
            out[0] = first
            out[1:, 0] = prev_close * r[:, 0]
            out[1:, 3] = close
            # high/low from the same scaled bar; max/min against open/close only absorbs rounding
            out[1:, 1] = np.maximum(prev_close * r[:, 1], np.maximum(out[1:, 0], close))
            out[1:, 2] = np.minimum(prev_close * r[:, 2], np.minimum(out[1:, 0], close))
            out[1:, 4] = self.volume[sym][idx]
            bars[sym] = pd.DataFrame(out, index=self.dates, columns=list(COLUMNS))
        bench = None
        if self.bench_ratio is not None:
            values = self.bench_first * np.concatenate([[1.0], np.cumprod(self.bench_ratio[idx])])
            bench = pd.Series(
                values, index=self.dates, name=cast(pd.Series, self.market.benchmark).name
            )  # bench_ratio: set from it
        notes = list(self.market.notes) + ([note] if note else [])
        if self.dropped:
            notes.append(f"resampled on the {self.n} dates every symbol shares; {self.dropped} other date(s) left out")
        return replace(self.market, bars=bars, benchmark=bench, notes=notes, gaps=[])


def resample_market(market: Market | RelativeBars, block: float = 20.0, seed: int = 0, path: int = 0) -> Market:
    """One Monte Carlo path of ``market``: a stationary block bootstrap of its daily bars.

    Parameters
    ----------
    market : Market or RelativeBars
        The historical market (pass a :class:`RelativeBars` to reuse its precomputation).
    block : float
        Mean block length in days (geometric block lengths, Politis & Romano 1994).
    seed, path : int
        The path's random stream is ``path_rng(seed, path)``: the same pair gives the same path.

    Returns
    -------
    Market
        Same symbols, benchmark and calendar as the original; bars rebuilt from resampled
        relative bars, every bar valid (``low <= open, close <= high``).
    """
    rel = market if isinstance(market, RelativeBars) else RelativeBars(market)
    idx = rel.indices(block, path_rng(seed, path))
    return rel.build(
        idx, note=f"Monte Carlo path {path}: stationary block bootstrap, mean block {block:g} days, seed {seed}"
    )


def resample_trade_pnl(pnl: np.ndarray, rng: np.random.Generator, method: str = "bootstrap") -> np.ndarray:
    """Shuffle (``"shuffle"``: a permutation) or bootstrap (``"bootstrap"``: draws with
    replacement) a sequence of realised trade P&L."""
    pnl = np.asarray(pnl, dtype=float)
    if method == "shuffle":
        return rng.permutation(pnl)
    if method == "bootstrap":
        return rng.choice(pnl, size=len(pnl), replace=True) if len(pnl) else pnl.copy()
    raise ConfigError(f"unknown trade resampling method {method!r}; valid: {', '.join(TRADE_METHODS)}")
