"""A backtrader live data feed: backfill history for the warm-up, then new bars from the stream.

Bars for all symbols come from the store's one market-data stream through a :class:`BarRouter`,
which releases a bar time to every feed at once (under one lock) when every symbol has it, or
after ``grace`` seconds, so a multi-symbol strategy sees the same aligned bars it sees in a
backtest. Daily bars are dated by their trading day (naive), minute bars in New York time
(naive), like the historical feeds.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import backtrader as bt
import pandas as pd

from autostock.live.store import bar_time

_STOP = object()


def bar_index(ts: pd.Timestamp, daily: bool) -> pd.Timestamp:
    """Naive index for a UTC bar time: the trading date (daily) or New York wall time (intraday)."""
    ts = ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")
    if daily:  # Alpaca stamps daily bars at New York midnight (04:00/05:00 UTC); some servers at 00:00 UTC
        return (ts + pd.Timedelta(hours=12)).tz_localize(None).normalize()
    return ts.tz_convert("America/New_York").tz_localize(None)


def live_bars(data: Any) -> int:
    """Live (streamed) bars a feed has delivered; a feed without the notion counts every bar."""
    n = getattr(data, "bars_live", None)
    return int(n) if n is not None else len(data)


class BarRouter:
    """Collects streamed bars per time; releases a time to all feeds atomically.

    Parameters
    ----------
    symbols : list of str
    daily : bool
    grace : float
        Seconds to wait for the slowest symbol before releasing a time without it.
    """

    def __init__(self, symbols: list[str], daily: bool = True, grace: float = 5.0) -> None:
        self.symbols = list(symbols)
        self.daily = daily
        self.grace = grace
        self._cond = threading.Condition()
        self._pending: dict[pd.Timestamp, dict[str, dict]] = {}
        self._first_seen: dict[pd.Timestamp, float] = {}
        self._queues: dict[str, collections.deque] = {s: collections.deque() for s in self.symbols}
        self._released: pd.Timestamp | None = None
        self._stopped = False

    def on_bar(self, symbol: str, raw: dict) -> None:
        """Stream callback (any thread)."""
        if symbol not in self._queues:
            return
        idx = bar_index(bar_time(raw["t"]), self.daily)
        bar = {
            "dt": idx,
            "open": float(raw["o"]),
            "high": float(raw["h"]),
            "low": float(raw["l"]),
            "close": float(raw["c"]),
            "volume": float(raw.get("v", 0.0)),
        }
        with self._cond:
            if self._released is not None and idx <= self._released:
                return  # a late or replayed bar
            self._pending.setdefault(idx, {})[symbol] = bar
            self._first_seen.setdefault(idx, time.monotonic())
            self._release(force=False)

    def _release(self, force: bool) -> None:
        now = time.monotonic()
        for idx in sorted(self._pending):
            got = self._pending[idx]
            complete = len(got) == len(self.symbols)
            newer_complete = any(len(v) == len(self.symbols) for k, v in self._pending.items() if k > idx)
            if not (complete or force or newer_complete or now - self._first_seen[idx] >= self.grace):
                break
            for sym, bar in got.items():
                self._queues[sym].append(bar)
            del self._pending[idx]
            del self._first_seen[idx]
            self._released = idx
            self._cond.notify_all()

    def get(self, symbol: str, timeout: float) -> Any:
        """Next bar for ``symbol``: a dict, None when nothing arrived in ``timeout``, or the stop marker."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            while True:
                if self._queues[symbol]:
                    return self._queues[symbol].popleft()
                if self._stopped:
                    return _STOP
                if self._pending:
                    self._release(force=False)
                    if self._queues[symbol]:
                        continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.5))

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()


class AlpacaData(bt.feed.DataBase):
    """Live feed for one symbol: ``history`` bars first (status DELAYED), then streamed bars (LIVE).

    Orders placed while a feed is still backfilling are not sent (the broker checks
    :meth:`backfilling`).
    """

    params = (("qcheck", 0.5),)

    def __init__(self, router: BarRouter, symbol: str, history: pd.DataFrame | None = None, daily: bool = True) -> None:
        super().__init__()
        self.router, self.symbol = router, symbol
        self._history = history if history is not None else pd.DataFrame()
        self._timeframe_daily = daily
        self._hist_iter: Any = None
        self._live = False
        self._last_dt: pd.Timestamp | None = None
        self.bars_live = 0

    def islive(self) -> bool:
        return True

    def backfilling(self) -> bool:
        return not self._live

    def start(self) -> None:
        super().start()
        self._hist_iter = iter(self._history.itertuples()) if len(self._history) else iter(())
        self.put_notification(self.DELAYED)

    def stop(self) -> None:
        super().stop()

    def _load(self) -> bool | None:
        if not self._live:
            row = next(self._hist_iter, None)
            if row is not None:
                return self._fill(row.Index, row.open, row.high, row.low, row.close, row.volume)
            self._live = True
            self.put_notification(self.LIVE)
        bar = self.router.get(self.symbol, self._qcheck)
        if bar is _STOP:
            return False
        if bar is None:
            return None
        if self._last_dt is not None and bar["dt"] <= self._last_dt:
            return None  # already had it from the backfill
        self.bars_live += 1
        return self._fill(bar["dt"], bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"])

    def _fill(self, dt: pd.Timestamp, o: float, h: float, lo: float, c: float, v: float) -> bool:
        self._last_dt = pd.Timestamp(dt)
        self.lines.datetime[0] = bt.date2num(self._last_dt.to_pydatetime())
        self.lines.open[0], self.lines.high[0], self.lines.low[0] = float(o), float(h), float(lo)
        self.lines.close[0], self.lines.volume[0] = float(c), float(v)
        self.lines.openinterest[0] = 0.0
        return True
