"""Seeded synthetic trades, quotes, news and option snapshots with planted, known effects.

Bars are 5-minute intervals of New York sessions (78 a day). Four latent AR(1) drivers,
``x_t = 0.6 x_{t-1} + N(0, 1)``, shape what is observable during bar ``t``:

* ``flow``: each trade is a buy with probability ``0.5 + 0.4 tanh(flow_t)`` (buys print at the
  ask, sells at the bid), seen by the ``trades`` features;
* ``book``: bid size / ask size = ``exp(1.6 book_t + noise)``, seen by the ``quotes`` features;
* ``tone``: with probability 0.25 a bar carries an article; it reads positive when
  ``tone_t > 0`` (words VADER scores), seen by the ``news`` features;
* ``puts``: put / call option volume = ``exp(puts_t)``, seen by the ``options`` features.

The planted effect: the next bar's log mid-price change is
``1e-3 * (w_flow flow_t + w_book book_t + w_news tone_t [article] - w_puts puts_t) + 1e-3 N(0,1)``.
With every weight 0 (``effects=False``) nothing is predictable: the null control.
Each symbol draws from its own generator seeded by (seed, symbol).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autostock.feeds.bars import quotes_to_bars, trades_to_bars
from autostock.feeds.market import Market

BAR_SECONDS = 300
BARS_PER_DAY = 78
WEIGHTS: dict[str, float] = {"flow": 0.35, "book": 0.35, "news": 0.9, "puts": 0.35}
_POSITIVE = (
    "{s} shares surge after strong earnings beat",
    "{s} rallies as analysts upgrade on great growth",
    "{s} wins major contract, profit jumps",
    "{s} posts record revenue, outlook excellent",
)
_NEGATIVE = (
    "{s} plunges after weak guidance and losses",
    "{s} downgraded amid fraud probe",
    "{s} misses estimates, shares crash",
    "{s} warns of bad quarter, layoffs and decline",
)


@dataclass
class MicroData:
    """What the generator made for one symbol, and its latent drivers per bar."""

    trades: pd.DataFrame
    quotes: pd.DataFrame
    news: pd.DataFrame
    options: pd.DataFrame
    drivers: pd.DataFrame


def _rng(seed: int, *keys: str) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF] + [zlib.crc32(k.encode()) for k in keys])


def bar_ends(n_bars: int, start: str = "2024-01-02") -> pd.DatetimeIndex:
    """Stamps of ``n_bars`` 5-minute bars of consecutive sessions (09:35 .. 16:00)."""
    days = pd.bdate_range(start, periods=n_bars // BARS_PER_DAY + 1)
    offsets = pd.to_timedelta(np.arange(1, BARS_PER_DAY + 1) * BAR_SECONDS, unit="s") + pd.Timedelta(
        hours=9, minutes=30
    )
    stamps = (days.to_numpy()[:, None] + offsets.to_numpy()[None, :]).ravel()
    return pd.DatetimeIndex(stamps[:n_bars])


def _ar1(rng: np.random.Generator, n: int, phi: float = 0.6) -> np.ndarray:
    z = rng.standard_normal(n)
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = phi * acc + z[i]
        out[i] = acc
    return out / np.sqrt(1 / (1 - phi**2))


def generate_micro(
    symbol: str = "SYN",
    n_bars: int = 2000,
    seed: int = 42,
    trades_per_bar: int = 40,
    effects: bool | dict[str, float] = True,
    start: str = "2024-01-02",
    with_alt: bool = True,
) -> MicroData:
    """Trades, quotes, news and option snapshots of one symbol (see the module docstring)."""
    rng = _rng(seed, "micro", symbol)
    w = (
        dict(WEIGHTS)
        if effects is True
        else ({k: 0.0 for k in WEIGHTS} if effects is False else {**{k: 0.0 for k in WEIGHTS}, **effects})
    )
    ends = bar_ends(n_bars, start)
    flow, book, tone, puts = (_ar1(rng, n_bars) for _ in range(4))
    has_news = rng.random(n_bars) < 0.25
    news_sign = np.where(rng.random(n_bars) < 1 / (1 + np.exp(-4 * tone)), 1.0, -1.0)
    signal = w["flow"] * flow + w["book"] * book + w["news"] * news_sign * has_news - w["puts"] * puts
    ret = np.r_[0.0, 1e-3 * signal[:-1]] + 1e-3 * rng.standard_normal(n_bars)
    mid = 100.0 * np.exp(np.cumsum(ret))
    prev_mid = np.r_[100.0, mid[:-1]]
    bar_start = ends - pd.Timedelta(seconds=BAR_SECONDS)

    # trades: times in (start, end], price on the mid path +- half a spread by side
    n_tr = rng.poisson(trades_per_bar - 1, n_bars) + 1
    bar_of = np.repeat(np.arange(n_bars), n_tr)
    frac = rng.random(len(bar_of)) * 0.999 + 0.001
    order = np.lexsort((frac, bar_of))
    frac, bar_of = frac[order], bar_of[order]
    path = prev_mid[bar_of] + (mid[bar_of] - prev_mid[bar_of]) * frac
    half = np.maximum(0.01, np.round(path * 0.0002, 2))
    buy = rng.random(len(bar_of)) < 0.5 + 0.4 * np.tanh(flow[bar_of])
    price = np.round(path + np.where(buy, half, -half), 2)
    size = np.maximum(1, np.round(np.exp(rng.normal(4.0, 0.8, len(bar_of))))).astype(float)
    t_ns = bar_start.to_numpy()[bar_of] + (frac * BAR_SECONDS * 1e9).astype("timedelta64[ns]")
    trades = pd.DataFrame({"timestamp": t_ns, "price": price, "size": size})

    # quotes: same count per bar, book imbalance from `book`
    n_q = rng.poisson(trades_per_bar - 1, n_bars) + 1
    qbar = np.repeat(np.arange(n_bars), n_q)
    qfrac = rng.random(len(qbar)) * 0.999 + 0.001
    order = np.lexsort((qfrac, qbar))
    qfrac, qbar = qfrac[order], qbar[order]
    qpath = prev_mid[qbar] + (mid[qbar] - prev_mid[qbar]) * qfrac
    qhalf = np.maximum(0.01, np.round(qpath * 0.0002 * (1 + np.abs(rng.normal(0, 0.5, len(qbar)))), 2))
    tilt = 0.8 * book[qbar] + rng.normal(0, 0.3, len(qbar))
    quotes = pd.DataFrame(
        {
            "timestamp": bar_start.to_numpy()[qbar] + (qfrac * BAR_SECONDS * 1e9).astype("timedelta64[ns]"),
            "bid": np.round(qpath - qhalf, 2),
            "ask": np.round(qpath + qhalf, 2),
            "bid_size": np.maximum(100.0, np.round(500 * np.exp(tilt), -2)),
            "ask_size": np.maximum(100.0, np.round(500 * np.exp(-tilt), -2)),
        }
    )
    quotes["ask"] = np.maximum(quotes["ask"], quotes["bid"] + 0.01)

    news = pd.DataFrame(columns=["created_at", "headline", "summary", "symbols"])
    options = pd.DataFrame()
    if with_alt:
        idx = np.flatnonzero(has_news)
        pick = rng.integers(0, 4, len(idx))
        heads = [(_POSITIVE if news_sign[i] > 0 else _NEGATIVE)[p].format(s=symbol) for i, p in zip(idx, pick)]
        pub = bar_start.to_numpy()[idx] + ((rng.random(len(idx)) * 0.98 + 0.01) * BAR_SECONDS * 1e9).astype(
            "timedelta64[ns]"
        )
        news = pd.DataFrame({"created_at": pub, "headline": heads, "summary": "", "symbols": [[symbol]] * len(idx)})
        # option snapshots one second before each bar's end: one expiry, 5 strikes x (put, call)
        strikes = np.array([0.9, 0.95, 1.0, 1.05, 1.1])
        deltas = {"put": np.array([-0.05, -0.25, -0.5, -0.7, -0.9]), "call": np.array([0.9, 0.7, 0.5, 0.25, 0.05])}
        parts = []
        for typ, scale in (("put", np.exp(0.5 * puts)), ("call", np.exp(-0.5 * puts))):
            rep = np.repeat(np.arange(n_bars), len(strikes))
            k = np.tile(strikes, n_bars)
            parts.append(
                pd.DataFrame(
                    {
                        "as_of": (ends - pd.Timedelta(seconds=1))[rep],
                        "underlying": symbol,
                        "type": typ,
                        "strike": np.round(k * mid[rep], 1),
                        "expiration": ends.normalize()[rep] + pd.Timedelta(days=30),
                        "iv": 0.25 + (0.05 * puts[rep] if typ == "put" else 0.0) + 0.1 * np.abs(k - 1),
                        "delta": np.tile(deltas[typ], n_bars),
                        "volume": rng.poisson(40 * scale[rep]).astype(float),
                        "open_interest": rng.poisson(2000, len(rep)).astype(float),
                        "underlying_price": mid[rep],
                    }
                )
            )
        options = pd.concat(parts, ignore_index=True).sort_values("as_of", kind="stable").reset_index(drop=True)
        for col in ("gamma", "theta", "vega"):
            options[col] = np.nan
    drivers = pd.DataFrame(
        {"flow": flow, "book": book, "tone": news_sign * has_news, "puts": puts, "ret": ret}, index=ends
    )
    return MicroData(trades, quotes, news, options, drivers)


def micro_bars(data: MicroData, symbol: str, bars: str = "time=5min") -> pd.DataFrame:
    """All per-bar columns (trades, quotes, news, options) for one symbol's synthetic data."""
    from autostock.feeds.news import news_to_bars
    from autostock.feeds.options import options_to_bars, tidy_snapshots

    out = trades_to_bars(data.trades, bars)
    out = out.join(quotes_to_bars(data.quotes, out.index))
    if len(data.news):
        out = out.join(news_to_bars(data.news, symbol, out.index))
    if len(data.options):
        snaps = tidy_snapshots(data.options, "synthetic options")
        out = out.join(options_to_bars(snaps, symbol, out.index))
    return out


def generate_micro_market(
    symbols: list[str] | None = None,
    n_bars: int = 2000,
    seed: int = 42,
    effects: bool | dict[str, float] = True,
    bars: str = "time=5min",
) -> Market:
    """A :class:`Market` of synthetic 5-minute bars carrying every microstructure / alt-data column."""
    symbols = list(symbols or ["SYN"])
    out = {}
    for sym in symbols:
        out[sym] = micro_bars(generate_micro(sym, n_bars, seed, effects=effects), sym, bars)
    label = "planted effects" if effects is not False else "no planted effect (null control)"
    return Market(
        bars=out,
        source="micro-synthetic",
        synthetic=True,
        notes=[f"synthetic trades, quotes, news and option snapshots ({label}), 5-minute bars"],
    )
