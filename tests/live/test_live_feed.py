"""The live data feed: aligned multi-symbol bars, minute bars, fractional orders, the clock."""

from __future__ import annotations

import time

import pandas as pd

from autostock.config import RunSpec
from autostock.live.data import BarRouter, bar_index
from autostock.live.state import StateDB
from tests.live.live_helpers import SessionThread, start_session, wait_until

BUY = "tests.live.live_helpers:BuyEveryBar"


def _raw(t: str, c: float) -> dict:
    return {"t": pd.Timestamp(t, tz="UTC"), "o": c, "h": c, "l": c, "c": c, "v": 100}


def test_daily_and_minute_bar_times_become_the_backtest_index():
    assert bar_index(pd.Timestamp("2024-03-05T05:00:00Z"), daily=True) == pd.Timestamp("2024-03-05")
    assert bar_index(pd.Timestamp("2024-03-05T00:00:00Z"), daily=True) == pd.Timestamp("2024-03-05")
    assert bar_index(pd.Timestamp("2024-03-05T14:31:00Z"), daily=False) == pd.Timestamp("2024-03-05 09:31")


def test_router_releases_a_bar_time_to_all_symbols_at_once_or_after_the_grace():
    router = BarRouter(["AAA", "BBB"], daily=True, grace=0.3)
    router.on_bar("AAA", _raw("2024-01-02", 1.0))
    assert router.get("AAA", timeout=0.05) is None  # BBB has not arrived: nothing released
    router.on_bar("BBB", _raw("2024-01-02", 2.0))
    assert router.get("AAA", 0.05)["close"] == 1.0 and router.get("BBB", 0.05)["close"] == 2.0
    router.on_bar("AAA", _raw("2024-01-03", 3.0))  # BBB never sends this day
    t0 = time.monotonic()
    assert router.get("AAA", timeout=5.0)["close"] == 3.0
    assert 0.25 <= time.monotonic() - t0 < 4.0
    router.on_bar("BBB", _raw("2024-01-03", 9.0))  # too late: already released
    router.on_bar("AAA", _raw("2024-01-02", 9.0))  # a replayed old bar
    assert router.get("BBB", 0.05) is None and router.get("AAA", 0.05) is None


def test_minute_bars_trade_with_fractional_quantities(fake_alpaca, tmp_path):
    fake = fake_alpaca
    spec = RunSpec(strategy=BUY, params={"size": 0.5}, symbols=["AAA", "BBB"])
    run = SessionThread(fake, spec, str(tmp_path / "paper.sqlite"), backfill=0, timeframe="1Min", fractional=True)
    run.thread.start()
    wait_until(lambda: run.session.started.is_set() or run.error, what="start")
    assert run.error is None, run.error
    try:
        fake.wait_data_subscribed(["AAA", "BBB"], channel="bars")
        for minute in ("14:31", "14:32"):
            for s in ("AAA", "BBB"):
                fake.push_bar(s, _raw(f"2024-03-05T{minute}:00Z", 20.0))
        wait_until(lambda: len(fake.submit_attempts) == 4, what="four orders")
    finally:
        run.stop()
    assert sorted({float(o["qty"]) for o in fake.orders.values()}) == [0.5]
    times = sorted({r["bar_time"] for r in StateDB(tmp_path / "paper.sqlite").orders()})
    assert times == ["2024-03-05T09:31:00", "2024-03-05T09:32:00"]  # New York time, like the historical feeds


def test_a_closed_market_is_logged_and_waited_out(fake_alpaca, tmp_path):
    fake_alpaca.set_clock(False)
    run, _ = start_session(fake_alpaca, tmp_path, BUY, ["AAA"])
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        wait_until(
            lambda: any("market closed: orders wait until" in e["message"] for e in db.events(50)),
            what="closed-market event",
        )
        fake_alpaca.set_clock(True)
        wait_until(lambda: any(e["message"] == "market open" for e in db.events(50)), what="open event")
    finally:
        run.stop()
    assert run.session.store.market_open
