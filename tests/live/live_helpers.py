"""Shared helpers for the live-adapter tests: a store with a fast rate limiter and retries, a
trading session running in a thread, seeded daily bars loaded into the loopback server."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import backtrader as bt
import pandas as pd

from autostock.config import RunSpec
from autostock.feeds.synthetic import generate_market
from autostock.live.killswitch import SafetyLimits
from autostock.live.ratelimit import TokenBucket
from autostock.live.retry import Backoff
from autostock.live.runner import LiveSettings, TradingSession
from autostock.live.store import AlpacaStore, Credentials
from autostock.strategies.base import BaseStrategy

KEY, SECRET = "PKTESTKEY", "SECRETCANARY"


def creds_for(fake: Any) -> Credentials:
    return Credentials(KEY, SECRET, fake.base_url, fake.data_url, paper=True)


def make_store(fake: Any, timeout: float = 1.0, limiter: TokenBucket | None = None, **kw: Any) -> AlpacaStore:
    """A store on the loopback server: 1 s HTTP timeout, fast backoff, fast reconnects."""
    kw.setdefault("backoff", Backoff(base=0.02, cap=0.2, attempts=4, rng=random.Random(1)))
    kw.setdefault("reconnect_min", 0.1)
    kw.setdefault("reconnect_max", 0.5)
    return AlpacaStore(
        creds_for(fake),
        timeout=timeout,
        limiter=limiter or TokenBucket(limit=1000, period=1.0, burst=100),
        trading_ws_url=fake.trading_ws_url,
        data_stream_url=fake.data_stream_url,
        **kw,
    )


def daily_bars(symbols: list[str], n: int, seed: int = 7, start: str = "2023-01-02") -> dict[str, pd.DataFrame]:
    """Seeded synthetic daily bars (naive dates), the same in backtest and live."""
    end = (pd.Timestamp(start) + pd.tseries.offsets.BDay(n - 1)).strftime("%Y-%m-%d")
    market = generate_market(symbols, start, end, seed=seed)
    return {s: df.iloc[:n] for s, df in market.bars.items()}


def push_daily(fake: Any, symbol: str, day: pd.Timestamp, row: pd.Series) -> None:
    fake.push_bar(
        symbol,
        {
            "t": pd.Timestamp(day).tz_localize("UTC"),
            "o": row["open"],
            "h": row["high"],
            "l": row["low"],
            "c": row["close"],
            "v": row["volume"],
        },
        channel="dailyBars",
    )


def wait_until(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class SessionThread:
    """A TradingSession run in a background thread (the test thread drives the server)."""

    def __init__(
        self,
        fake: Any,
        spec: RunSpec,
        state_path: str,
        *,
        limits: SafetyLimits | None = None,
        backfill: int = 0,
        run_id: str = "test",
        store: AlpacaStore | None = None,
        **kw: Any,
    ) -> None:
        kw.setdefault("history_start", "2000-01-01")
        settings = LiveSettings(
            state_path=state_path,
            run_id=run_id,
            backfill=backfill,
            qcheck=0.05,
            bar_grace=5.0,
            clock_poll=0.5,
            limits=limits or SafetyLimits(),
            **kw,
        )
        self.store = store or make_store(fake)
        self.session = TradingSession(spec, settings, creds=creds_for(fake), store=self.store)
        self.code: int | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.code = self.session.run()
        except BaseException as exc:  # surfaced by join()
            self.error = exc

    def start(self, fake: Any, symbols: list[str], timeout: float = 15.0) -> SessionThread:
        self.thread.start()
        wait_until(lambda: self.session.started.is_set() or self.error is not None, timeout, "session start")
        if self.error is not None:
            raise self.error
        fake.wait_trading_listeners(1, timeout=timeout)
        fake.wait_data_subscribed(symbols, channel="dailyBars", timeout=timeout)
        return self

    def wait_steps(self, n: int, timeout: float = 10.0) -> None:
        wait_until(lambda: self.session.steps >= n or self.error is not None, timeout, f"{n} strategy steps")
        if self.error is not None:
            raise self.error

    def stop(self, timeout: float = 15.0) -> int | None:
        self.session.stop("test finished")
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "session did not stop"
        if self.error is not None:
            raise self.error
        return self.code


# -- strategies used by the tests (referenced as tests.live.live_helpers:Name) -----------------


class BuyEveryBar(BaseStrategy):
    """Buys ``size`` shares of every data, ``orders_per_bar`` times, on every bar."""

    params = (("size", 1.0), ("orders_per_bar", 1))
    notes: list = []

    def next(self) -> None:
        for d in self.datas:
            for _ in range(self.p.orders_per_bar):
                self.buy(data=d, size=self.p.size)

    def notify_order(self, order: bt.Order) -> None:
        super().notify_order(order)
        BuyEveryBar.notes.append((order.ref, order.getstatusname(), order.executed.size))


class OrderMenu(BaseStrategy):
    """On bar ``after``: a limit buy, a stop sell, a stop-limit buy and a bracket buy."""

    params = (("after", 6),)
    notes: list = []

    def __init__(self) -> None:
        self.sent = False

    def next(self) -> None:
        if self.sent or len(self.datas[0]) < self.p.after:
            return
        self.sent = True
        d = self.datas[0]
        c = d.close[0]
        self.buy(data=d, size=3, exectype=bt.Order.Limit, price=c * 0.9)
        self.sell(data=d, size=2, exectype=bt.Order.Stop, price=c * 0.8)
        self.buy(data=d, size=1, exectype=bt.Order.StopLimit, price=c * 1.1, plimit=c * 1.12)
        self.buy_bracket(data=d, size=5, price=c * 0.95, stopprice=c * 0.9, limitprice=c * 1.1)

    def notify_order(self, order: bt.Order) -> None:
        OrderMenu.notes.append((order.ref, order.getordername(), order.getstatusname(), order.executed.size))


def start_session(
    fake: Any, tmp_path: Any, strategy: str, symbols: list[str], params: dict | None = None, history: int = 5, **kw: Any
) -> tuple[SessionThread, dict[str, pd.DataFrame]]:
    """History bars on the server, a started session; returns it and the bars (history + 20 more)."""
    bars = daily_bars(symbols, history + 20)
    for s in symbols:
        fake.add_bars(s, bars[s].iloc[:history])
    spec = RunSpec(strategy=strategy, params=params or {}, symbols=symbols)
    run = SessionThread(fake, spec, str(tmp_path / "paper.sqlite"), backfill=history, **kw).start(fake, symbols)
    run.wait_steps(history)
    return run, bars


def push_day(fake: Any, run: SessionThread, bars: dict[str, pd.DataFrame], i: int, wait: bool = True) -> None:
    """Stream bar ``i`` of every symbol and wait for the strategy to process it."""
    for s, df in bars.items():
        push_daily(fake, s, df.index[i], df.iloc[i])
    if wait:
        run.wait_steps(i + 1)


class BuyThenClose(BaseStrategy):
    """Buys ``size`` shares of the first data on live bar ``buy_at`` (1-based count of bars
    seen), closes the position on bar ``close_at``."""

    params = (("size", 100.0), ("buy_at", 1), ("close_at", 3), ("allow_short", False))

    def __init__(self) -> None:
        self.bars = 0

    def next(self) -> None:
        self.bars += 1
        d = self.datas[0]
        if self.bars == self.p.buy_at:
            self.buy(data=d, size=self.p.size)
        elif self.bars == self.p.close_at and self.getposition(d).size:
            self.close(data=d)
