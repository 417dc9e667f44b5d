"""Seeded synthetic multi-asset market, fully offline.

Daily log-return of symbol i on day t::

    r_it = beta_i * m_t + gamma_i * s_{sector(i),t} + e_it

* ``m_t`` market factor: regime drift (bull / bear / sideways, a Markov chain) plus GARCH(1,1)
  noise, so volatility clusters;
* ``s_kt`` sector factor, GARCH(1,1) (sectors from :mod:`autostock.universe`, or ``sectors``); ``e_it`` idiosyncratic GARCH(1,1) noise;
* OHLC: the return is split into an overnight gap and an intraday move; high and low extend
  beyond max/min(open, close) by a half-normal amount scaled by the day's volatility, so
  ``low <= open, close <= high`` always; volume is log-normal and rises with |return|.

Each symbol draws from its own generator seeded by (seed, symbol), so adding a symbol never
changes the others. The benchmark (``SPY`` by default) is the market factor as an index.
Every report labels this data as synthetic.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from autostock.feeds.market import Market

DEFAULT_START = "2015-01-01"
DEFAULT_END = "2024-12-31"
REGIMES = ("bull", "bear", "sideways")
# daily drift and volatility multiplier of the market factor in each regime
REGIME_DRIFT = np.array([0.0007, -0.0010, 0.0001])
REGIME_VOL = np.array([0.8, 1.6, 1.0])
# daily transition probabilities (rows: from, columns: to)
REGIME_TRANSITIONS = np.array(
    [
        [0.990, 0.004, 0.006],
        [0.015, 0.975, 0.010],
        [0.010, 0.005, 0.985],
    ]
)


def _rng(seed: int, *keys: str) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF] + [zlib.crc32(k.encode()) for k in keys])


def _garch(z: np.ndarray, target_vol: np.ndarray | float, alpha: float = 0.08, beta: float = 0.90) -> np.ndarray:
    """GARCH(1,1) shocks for standard-normal draws ``z`` of shape (days, n)."""
    z = np.atleast_2d(z.T).T
    var_target = np.broadcast_to(np.asarray(target_vol, dtype=float) ** 2, z.shape[1:]).copy()
    omega = var_target * (1 - alpha - beta)
    var = var_target.copy()
    out = np.empty_like(z)
    for t in range(z.shape[0]):
        eps = np.sqrt(var) * z[t]
        out[t] = eps
        var = omega + alpha * eps**2 + beta * var
    return out


def regime_path(n: int, seed: int) -> np.ndarray:
    """Regime index per day (0 bull, 1 bear, 2 sideways) from the Markov chain."""
    u = _rng(seed, "__regime__").random(n)
    cum = REGIME_TRANSITIONS.cumsum(axis=1)
    states = np.empty(n, dtype=int)
    state = 0
    for t in range(n):
        state = int(np.searchsorted(cum[state], u[t]))
        states[t] = min(state, 2)
    return states


def generate_market(
    symbols: list[str],
    start: str | None = None,
    end: str | None = None,
    seed: int = 42,
    sectors: dict[str, str] | None = None,
    benchmark_symbol: str = "SPY",
) -> Market:
    """Generate a synthetic :class:`Market` for ``symbols`` on business days start..end."""
    dates = pd.bdate_range(start or DEFAULT_START, end or DEFAULT_END, name="date")
    n = len(dates)
    from autostock.universe import sectors_for

    sector_map = {**sectors_for(symbols), **(sectors or {})}
    sym_sector = {s: sector_map.get(s, "Other") for s in symbols}

    regimes = regime_path(n, seed)
    zm = _rng(seed, "__market__").standard_normal(n)
    market = REGIME_DRIFT[regimes] + _garch(zm, 0.009)[:, 0] * REGIME_VOL[regimes]
    sector_ret = {
        sec: _garch(_rng(seed, "__sector__", sec).standard_normal(n), 0.010)[:, 0]
        for sec in sorted(set(sym_sector.values()))
    }

    bars: dict[str, pd.DataFrame] = {}
    for sym in symbols:
        rng = _rng(seed, sym)
        beta = rng.uniform(0.6, 1.5)
        gamma = rng.uniform(0.5, 1.2)
        idio_vol = rng.uniform(0.008, 0.022)
        alpha = rng.normal(0.0001, 0.0002)
        idio = _garch(rng.standard_normal(n), idio_vol)[:, 0]
        ret = alpha + beta * market + gamma * sector_ret[sym_sector[sym]] + idio
        bars[sym] = _ohlcv(ret, rng.uniform(20, 300), rng, dates, idio_vol)

    bench_noise = _rng(seed, "__bench__").normal(0, 0.0005, n)
    bench = pd.Series(400.0 * np.exp(np.cumsum(market + bench_noise)), index=dates, name=benchmark_symbol)
    return Market(
        bars=bars,
        source=f"synthetic(seed={seed})",
        benchmark=bench,
        benchmark_symbol=benchmark_symbol,
        synthetic=True,
        notes=[f"SYNTHETIC market generated with seed {seed}: not real prices"],
        sectors=sym_sector,
    )


def _ohlcv(ret: np.ndarray, p0: float, rng: np.random.Generator, dates: pd.DatetimeIndex, vol: float) -> pd.DataFrame:
    n = len(ret)
    gap_share = rng.uniform(0.2, 0.4)
    close = p0 * np.exp(np.cumsum(ret))
    prev_close = np.concatenate([[p0], close[:-1]])
    open_ = prev_close * np.exp(ret * gap_share + rng.normal(0, vol * 0.2, n))
    day_vol = np.abs(ret) + vol
    top = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.5, n)) * day_vol)
    bottom = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.5, n)) * day_vol)
    base_volume = rng.uniform(2e5, 5e6)
    volume = np.round(base_volume * np.exp(rng.normal(0, 0.3, n)) * (1 + 3 * np.abs(ret) / vol))
    return pd.DataFrame(
        {"open": open_, "high": top, "low": bottom, "close": close, "volume": volume.astype(float)},
        index=dates,
    )
