"""Streams, restarts, reconciliation and rate limits against the loopback Alpaca server."""

from __future__ import annotations

import time

import pytest

from autostock.config import RunSpec
from autostock.live.ratelimit import TokenBucket
from autostock.live.reconcile import ReconcileError, reconcile
from autostock.live.runner import HaltedError
from autostock.live.state import StateDB
from tests.live.live_helpers import (
    BuyEveryBar,
    SessionThread,
    make_store,
    push_day,
    start_session,
    wait_until,
)

BUY = "tests.live.live_helpers:BuyEveryBar"


def test_fill_during_a_websocket_drop_is_applied_exactly_once(fake_alpaca, tmp_path):
    fake = fake_alpaca
    run, bars = start_session(fake, tmp_path, BUY, ["AAA"], params={"size": 7})
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        push_day(fake, run, bars, 5)
        oid = wait_until(lambda: next(iter(fake.orders), None), what="order")
        fake.set_streams_down(True)
        assert fake.drop_streams(data=False) == 1
        event = fake.fill(oid, price=101.0)  # nobody listening: the event is lost
        time.sleep(0.3)
        assert db.fills() == []
        fake.set_streams_down(False)
        wait_until(lambda: len(db.fills()) == 1, what="REST catch-up after the reconnect")
        fake.send_raw_trade_update(event)  # a late copy of the lost event
        time.sleep(0.3)
    finally:
        run.stop()
    assert [f["qty"] for f in db.fills()] == [7]
    assert db.positions()["AAA"]["qty"] == 7 == fake.positions()["AAA"]
    assert run.session.broker.positions["AAA"].size == 7
    assert fake.stream_clients("trading") == 0
    assert any(e["kind"] == "catchup" for e in db.events(50))


def test_crash_after_submit_then_restart_sends_no_second_order(fake_alpaca, tmp_path):
    fake = fake_alpaca
    symbols = ["AAA"]
    run, bars = start_session(fake, tmp_path, BUY, symbols, params={"size": 3}, history=5)
    try:
        push_day(fake, run, bars, 5)
        wait_until(lambda: len(fake.orders) == 1, what="order")
    finally:
        run.stop()
    db = StateDB(tmp_path / "paper.sqlite")
    (row,) = db.orders()
    # the crash: the request went out, the process died before the response was recorded
    with db._tx() as c:
        c.execute("UPDATE orders SET status='pending_submit', alpaca_id=NULL WHERE cid=?", (row["cid"],))
    fake.fill(row["alpaca_id"], price=42.0)  # it filled while autostock was down
    BuyEveryBar.notes.clear()
    # restart without history: bar 5 arrives again live, the strategy re-issues the same order
    spec = RunSpec(strategy=BUY, params={"size": 3}, symbols=symbols)
    run2 = SessionThread(fake, spec, str(tmp_path / "paper.sqlite"), backfill=0).start(fake, symbols)
    try:
        adopted = db.get_order(row["cid"])
        assert adopted["alpaca_id"] == next(iter(fake.orders))  # reconciliation found it by client_order_id
        push_day(fake, run2, bars, 5, wait=False)
        run2.wait_steps(1)
        wait_until(lambda: ("Completed", 3) in [(n[1], n[2]) for n in BuyEveryBar.notes], what="Completed")
    finally:
        run2.stop()
    assert len(fake.submit_attempts) == 1
    assert len(fake.orders_by_client_id(row["cid"])) == 1
    assert any(e["kind"] == "adopt" for e in db.events(50))
    # the fill made while down is counted once: in the state, at the broker and in backtrader
    assert [f["qty"] for f in db.fills()] == [3]
    assert db.positions()["AAA"]["qty"] == 3 == fake.positions()["AAA"]
    assert run2.session.broker.positions["AAA"].size == 3
    assert [n[1] for n in BuyEveryBar.notes].count("Completed") == 1


def test_500_request_burst_stays_under_the_server_limit(fake_alpaca):
    fake = fake_alpaca
    fake.rate_limit_per_minute, fake.rate_limit_window_s = 200, 1.0  # time scaled: 200 per second
    store = make_store(fake, limiter=TokenBucket(limit=190, period=1.0, burst=10))
    t0 = time.monotonic()
    for _ in range(500):
        store.clock()
    assert fake.rate_limited_count == 0 and store.rate_limited == 0
    assert time.monotonic() - t0 > 2.0  # it was throttled, not lucky


def test_429_waits_for_the_reset_and_then_succeeds(fake_alpaca):
    fake = fake_alpaca
    fake.rate_limit_per_minute, fake.rate_limit_window_s = 50, 1.0
    store = make_store(fake, limiter=TokenBucket(limit=10_000, period=1.0, burst=1000))
    for _ in range(80):
        assert store.clock()["is_open"] in (True, False)
    assert fake.rate_limited_count >= 1 and store.rate_limited == fake.rate_limited_count


def test_failed_positions_read_refuses_to_start(fake_alpaca, tmp_path):
    fake_alpaca.fail_next("GET", r"/v2/positions$", status=503, times=100)
    with pytest.raises(ReconcileError, match="refusing to start"):
        reconcile(make_store(fake_alpaca), StateDB(tmp_path / "s.sqlite"))


def test_reconcile_records_fills_while_down_reports_outside_orders_and_halts_on_a_mismatch(fake_alpaca, tmp_path):
    fake = fake_alpaca
    store = make_store(fake)
    db = StateDB(tmp_path / "s.sqlite")
    from tests.live.test_live_orders import _request

    order = store.submit(_request("as-mine-1", "AAA", 4), "as-mine-1")
    db.record_order("as-mine-1", symbol="AAA", side="buy", qty=4, type="market", status="new", alpaca_id=order["id"])
    fake.fill(order["id"], price=50.0)  # while autostock was down
    store.submit(_request("manual-1", "BBB", 2), "manual-1")  # placed by hand in the web UI
    rep = reconcile(store, db)
    assert db.positions()["AAA"]["qty"] == 4 and rep.fills_while_down
    assert any("BBB" in e for e in rep.external_orders)
    assert db.halted() is None
    fake.set_position("AAA", 9, 50.0)  # nothing explains 9
    rep2 = reconcile(store, db)
    assert rep2.mismatches and "AAA" in db.halted()


def test_halted_state_refuses_to_trade_after_restart(fake_alpaca, tmp_path):
    db = StateDB(tmp_path / "paper.sqlite")
    db.halt("test halt")
    spec = RunSpec(strategy=BUY, symbols=["AAA"])
    with pytest.raises(HaltedError, match="autostock resume"):
        SessionThread(fake_alpaca, spec, str(tmp_path / "paper.sqlite")).session.run()
    assert not fake_alpaca.submit_attempts


def test_one_stream_of_each_kind_and_one_bars_request_for_all_symbols(fake_alpaca, tmp_path):
    fake = fake_alpaca
    symbols = ["AAA", "BBB", "CCC"]
    run, bars = start_session(fake, tmp_path, BUY, symbols, params={"size": 1})
    try:
        assert fake.stream_clients("trading") == 1
        assert fake.data_subscriptions("dailyBars") == set(symbols)
        bar_requests = [r for r in fake.requests if r[2].startswith("/v2/stocks/bars")]
        assert len(bar_requests) == 1
        store = run.store
        n0 = len(fake.requests)
        store.latest_bars(symbols)
        store.latest_bars(symbols)  # within the TTL: served from the cache
        assert len(fake.requests) - n0 == 1
    finally:
        run.stop()
    assert len([c for c in fake.ws_connections if c[1] == "data"]) == 1


def test_silent_data_stream_is_reconnected_by_the_watchdog_only_while_the_market_is_open(fake_alpaca):
    fake = fake_alpaca
    store = make_store(fake, stale_after=0.4)
    store.on_bar(lambda sym, bar: None)
    try:
        store.start_data_stream(["AAA"], "1Min")
        fake.wait_data_subscribed(["AAA"], channel="bars")
        wait_until(lambda: store.reconnects["data"] >= 2, 10, "a forced reconnect")
        store.market_open = False
        time.sleep(1.0)  # a reconnect already under way may still complete
        settled = store.reconnects["data"]
        time.sleep(1.2)
        assert store.reconnects["data"] == settled  # closed market: silence is normal
    finally:
        store.stop()


def test_reconnects_back_off_while_the_streams_are_down(fake_alpaca, caplog):
    fake = fake_alpaca
    store = make_store(fake)  # reconnect backoff 0.1 s doubling to 0.5 s (production: 1 s to 30 s)
    store.on_trade_update(lambda event: None)
    try:
        store.start_trade_stream()
        fake.wait_trading_listeners(1)
        fake.set_streams_down(True)
        with caplog.at_level("WARNING", logger="alpaca.trading.stream"):
            fake.drop_streams()
            time.sleep(2.0)
            attempts = len([r for r in caplog.records if r.name == "alpaca.trading.stream"])
        fake.set_streams_down(False)
        wait_until(lambda: store.reconnects["trade"] >= 2, 10, "reconnect after the outage")
    finally:
        store.stop()
    assert 2 <= attempts <= 15  # a storm would be hundreds of attempts in 2 s
