"""Trades into bars (time, tick, volume, dollar; Lopez de Prado, *Advances in Financial Machine
Learning*, ch. 2) and quotes onto bars (top of book), vectorised with numpy / pandas.

Bar rules
---------
* ``time=5min``: trades with timestamps in ``(end - 5min, end]`` form the bar stamped ``end``.
* ``tick=N``: every ``N`` trades; ``volume=V`` / ``dollar=D``: a bar closes on the trade that
  takes the cumulative volume (price x size) across the next multiple of ``V`` (``D``).
* A tick, volume or dollar bar is stamped with the time of its last trade. Bars that would
  share a stamp (many trades in one millisecond) are one bar, so stamps strictly increase.
* The last bar may be incomplete (it holds the trades after the last full threshold); it is kept.

The stamp is the bar's *decision time*: everything in the bar happened at or before it.

Columns from trades: open, high, low, close, volume, ``n_trades``, ``dollar_volume``,
``vwap``, ``buy_volume`` / ``sell_volume`` (tick rule: a trade above the previous price is a
buy, below a sell, equal keeps the previous sign; trades before the first price change are
unsigned), ``rv`` (sum of squared log price changes between consecutive trades in the bar).

Columns from quotes (a quote belongs to the first bar whose stamp is at or after it; quotes
after the last bar belong to none): ``bid, ask, bid_size, ask_size`` (the quote standing at
the stamp), ``spread_mean`` (mean of (ask - bid) / mid over the bar's quotes),
``imbalance_mean`` (mean of (bid_size - ask_size) / (bid_size + ask_size)), ``ofi`` (sum of
Cont-Kukanov-Stoikov order-flow imbalance increments), ``n_quotes``, and ``open_bid,
open_ask, open_bid_size, open_ask_size``: the first quote after the previous bar's stamp (or,
without one, the quote still standing then), the quote a market order sent at the previous
bar's close meets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autostock.errors import ConfigError, DataError

BAR_KINDS: tuple[str, ...] = ("time", "tick", "volume", "dollar")
TRADE_BAR_COLUMNS: tuple[str, ...] = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "n_trades",
    "dollar_volume",
    "vwap",
    "buy_volume",
    "sell_volume",
    "rv",
)
QUOTE_BAR_COLUMNS: tuple[str, ...] = (
    "bid",
    "ask",
    "bid_size",
    "ask_size",
    "spread_mean",
    "imbalance_mean",
    "ofi",
    "n_quotes",
    "open_bid",
    "open_ask",
    "open_bid_size",
    "open_ask_size",
)


@dataclass(frozen=True)
class BarSpec:
    """How trades become bars: ``kind`` in :data:`BAR_KINDS` and its threshold."""

    kind: str
    threshold: float | str

    def __str__(self) -> str:
        return f"{self.kind}={self.threshold}"


def parse_bar_spec(text: str) -> BarSpec:
    """``time=5min``, ``tick=500``, ``volume=1e5`` or ``dollar=5e6``."""
    kind, sep, value = str(text).strip().partition("=")
    kind = kind.strip().lower()
    if not sep or kind not in BAR_KINDS or not value.strip():
        raise ConfigError(f"--bars {text!r}: expected time=5min, tick=N, volume=V or dollar=D")
    value = value.strip()
    if kind == "time":
        try:
            delta = pd.Timedelta(pd.tseries.frequencies.to_offset(value))
        except (ValueError, TypeError):
            raise ConfigError(f"--bars {text!r}: {value!r} is not a time span like 5min or 1h") from None
        if delta <= pd.Timedelta(0):
            raise ConfigError(f"--bars {text!r}: the span must be positive")
        return BarSpec("time", value)
    try:
        threshold = float(value)
    except ValueError:
        raise ConfigError(f"--bars {text!r}: {value!r} is not a number") from None
    if not np.isfinite(threshold) or threshold <= 0 or (kind == "tick" and threshold != int(threshold)):
        raise ConfigError(
            f"--bars {text!r}: the threshold must be a positive {'integer' if kind == 'tick' else 'number'}"
        )
    return BarSpec(kind, int(threshold) if kind == "tick" else threshold)


def tick_signs(price: np.ndarray) -> np.ndarray:
    """Tick rule: +1 after an up-tick, -1 after a down-tick, the previous sign on a zero tick, 0 before any change."""
    sign = np.zeros(len(price))
    if len(price) > 1:
        sign[1:] = np.sign(np.diff(price))
    nz = sign != 0
    idx = np.where(nz, np.arange(len(sign)), 0)
    np.maximum.accumulate(idx, out=idx)
    return sign[idx]  # sign[0] is 0: trades before the first change stay unsigned


def _bar_ids(trades: pd.DataFrame, spec: BarSpec) -> tuple[np.ndarray, np.ndarray | None]:
    n = len(trades)
    if spec.kind == "time":
        ends = trades["timestamp"].dt.ceil(spec.threshold).to_numpy()
        uniq, ids = np.unique(ends, return_inverse=True)
        return ids, uniq
    if spec.kind == "tick":
        return np.arange(n) // int(spec.threshold), None
    amount = trades["size"].to_numpy(dtype=float)
    if spec.kind == "dollar":
        amount = amount * trades["price"].to_numpy(dtype=float)
    before = np.cumsum(amount) - amount  # cumulative amount before this trade
    return np.floor(before / float(spec.threshold) + 1e-12).astype(np.int64), None


def trades_to_bars(trades: pd.DataFrame, spec: BarSpec | str) -> pd.DataFrame:
    """Aggregate a validated trades table into bars (see the module docstring for the rules)."""
    if isinstance(spec, str):
        spec = parse_bar_spec(spec)
    if trades.empty:
        raise DataError("no trades to aggregate into bars")
    ids, time_ends = _bar_ids(trades, spec)
    ts = trades["timestamp"].to_numpy()
    if time_ends is None:
        # renumber so that bars ending on the same timestamp are one bar
        last = np.flatnonzero(np.r_[ids[1:] != ids[:-1], True])
        ends = ts[last]
        new = np.r_[0, np.cumsum(ends[1:] != ends[:-1])]
        ids = np.repeat(new, np.diff(np.r_[-1, last]))
    price = trades["price"].to_numpy(dtype=float)
    size = trades["size"].to_numpy(dtype=float)
    sign = tick_signs(price)
    logp = np.log(price)
    dlog = np.r_[0.0, np.diff(logp)]
    first = np.r_[True, ids[1:] != ids[:-1]]
    dlog[first] = 0.0
    starts = np.flatnonzero(first)
    dollar = price * size
    red = np.add.reduceat
    volume = red(size, starts)
    out = pd.DataFrame(
        {
            "open": price[starts],
            "high": np.maximum.reduceat(price, starts),
            "low": np.minimum.reduceat(price, starts),
            "close": price[np.r_[starts[1:] - 1, len(price) - 1]],
            "volume": volume,
            "n_trades": np.diff(np.r_[starts, len(price)]).astype(float),
            "dollar_volume": red(dollar, starts),
            "buy_volume": red(np.where(sign > 0, size, 0.0), starts),
            "sell_volume": red(np.where(sign < 0, size, 0.0), starts),
            "rv": red(dlog**2, starts),
        }
    )
    out["vwap"] = out["dollar_volume"] / out["volume"]
    if time_ends is not None:
        index = pd.DatetimeIndex(time_ends)
    else:
        index = pd.DatetimeIndex(ts[np.r_[starts[1:] - 1, len(ts) - 1]])
    out.index = index.rename("date")
    return out[list(TRADE_BAR_COLUMNS)]


def quote_ofi(quotes: pd.DataFrame) -> np.ndarray:
    """Cont-Kukanov-Stoikov (2014) order-flow imbalance increment of each quote update.

    ``e_n = 1{Pb_n >= Pb_n-1} qb_n - 1{Pb_n <= Pb_n-1} qb_n-1 - 1{Pa_n <= Pa_n-1} qa_n
    + 1{Pa_n >= Pa_n-1} qa_n-1``; the first quote contributes 0.
    """
    pb, qb = quotes["bid"].to_numpy(float), quotes["bid_size"].to_numpy(float)
    pa, qa = quotes["ask"].to_numpy(float), quotes["ask_size"].to_numpy(float)
    e = np.zeros(len(pb))
    if len(pb) > 1:
        e[1:] = (
            (pb[1:] >= pb[:-1]) * qb[1:]
            - (pb[1:] <= pb[:-1]) * qb[:-1]
            - (pa[1:] <= pa[:-1]) * qa[1:]
            + (pa[1:] >= pa[:-1]) * qa[:-1]
        )
    return e


def quotes_to_bars(quotes: pd.DataFrame, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Top-of-book columns for bars stamped ``index`` (see the module docstring)."""
    ts = quotes["timestamp"].to_numpy()
    k = np.searchsorted(index.to_numpy(), ts, side="left")
    inside = k < len(index)
    q = quotes.loc[inside].reset_index(drop=True)
    k = k[inside]
    n = len(index)
    bid, ask = q["bid"].to_numpy(float), q["ask"].to_numpy(float)
    bs, asz = q["bid_size"].to_numpy(float), q["ask_size"].to_numpy(float)
    mid = (bid + ask) / 2.0
    counts = np.bincount(k, minlength=n).astype(float)

    def mean_of(values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(k, weights=values, minlength=n) / counts

    out = pd.DataFrame(index=index)
    # the quote standing at each stamp: the last quote with bar id <= this bar
    has = counts > 0
    last_pos = np.full(n, -1)
    if len(k):
        last_in_bar = np.flatnonzero(np.r_[k[1:] != k[:-1], True])
        last_pos[k[last_in_bar]] = last_in_bar
    np.maximum.accumulate(last_pos, out=last_pos)
    first_pos = np.full(n, -1)
    if len(k):
        first_in_bar = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        first_pos[k[first_in_bar]] = first_in_bar
    prev_standing = np.r_[-1, last_pos[:-1]]
    open_pos = np.where(first_pos >= 0, first_pos, prev_standing)
    for name, arr in (("bid", bid), ("ask", ask), ("bid_size", bs), ("ask_size", asz)):
        padded = np.r_[arr, np.nan]  # position -1 -> NaN (no quote yet)
        out[name] = padded[last_pos]
        out[f"open_{name}"] = padded[open_pos]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["spread_mean"] = mean_of((ask - bid) / mid)
        out["imbalance_mean"] = mean_of((bs - asz) / (bs + asz))
    out["ofi"] = np.where(has, np.bincount(k, weights=quote_ofi(q), minlength=n), 0.0)
    out["n_quotes"] = counts
    return out[list(QUOTE_BAR_COLUMNS)]


def quotes_to_time_bars(quotes: pd.DataFrame, span: str) -> pd.DataFrame:
    """Time bars of the mid price from quotes alone (volume 0), with the top-of-book columns."""
    mids = pd.DataFrame({"timestamp": quotes["timestamp"], "price": (quotes["bid"] + quotes["ask"]) / 2.0, "size": 1.0})
    bars = trades_to_bars(mids, BarSpec("time", span))[["open", "high", "low", "close"]]
    bars["volume"] = 0.0
    return bars.join(quotes_to_bars(quotes, bars.index))


_BARS_SUFFIX = re.compile(r"@((?:time|tick|volume|dollar)=[^@]+)$")


def split_bar_suffix(source: str) -> tuple[str, str | None]:
    """``trades:x.csv@dollar=5e6`` -> (``trades:x.csv``, ``dollar=5e6``)."""
    m = _BARS_SUFFIX.search(source)
    return (source[: m.start()], m.group(1)) if m else (source, None)
