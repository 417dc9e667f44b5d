"""Fault injection against the loopback Alpaca server (issue 10): each test reproduces a way a
long-running session lost money or crashed, and asserts what autostock does now."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from autostock.config import RunSpec
from autostock.live.killswitch import SafetyLimits
from autostock.live.state import StateDB
from tests.live.live_helpers import (
    KEY,
    SECRET,
    SessionThread,
    daily_bars,
    make_store,
    push_day,
    start_session,
    wait_until,
)

BUY = "tests.live.live_helpers:BuyEveryBar"
BUY_CLOSE = "tests.live.live_helpers:BuyThenClose"
FAST_POLL = {"poll_interval": 0.6, "order_stale_after": 0.4, "stream_grace": 0.2, "retry_base": 0.1, "retry_cap": 0.3}


def _outside_client(fake):
    from alpaca.trading.client import TradingClient

    return TradingClient(KEY, SECRET, paper=True, raw_data=True, url_override=fake.base_url)


def _outside_sell(fake, symbol: str, qty: float, cid: str) -> dict:
    """A market sell placed by hand (the web UI), filled at once (by ``auto_fill`` or here)."""
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import MarketOrderRequest

    order = _outside_client(fake).submit_order(
        MarketOrderRequest(
            symbol=symbol, qty=qty, side=OrderSide.SELL, time_in_force=TimeInForce.DAY, client_order_id=cid
        )
    )
    if fake.orders[order["id"]]["status"] != "filled":
        fake.fill(order["id"])
    return fake.orders[order["id"]]


# -- 1. restart with --max-drawdown --------------------------------------------------------


def test_restart_holding_a_position_with_max_drawdown_replays_history_without_liquidating(fake_alpaca, tmp_path):
    fake = fake_alpaca
    n = 30
    bars = daily_bars(["AAA"], n + 5)["AAA"]
    hist = bars.iloc[:n].copy()
    # the history was twice as high as today's price: valued at old closes, the holding would
    # look like a 50 % drawdown from a fictitious peak
    scale = pd.Series([2.0] * (n // 2) + [1.0] * (n - n // 2), index=hist.index)
    for col in ("open", "high", "low", "close"):
        hist[col] = hist[col] * scale
    fake.add_bars("AAA", hist)
    price = float(hist["close"].iloc[-1])
    fake.set_cash(1_000.0)
    fake.set_position("AAA", 100, price)
    path = tmp_path / "paper.sqlite"
    db = StateDB(path)
    db.set_position("AAA", 100, price)  # an earlier session bought it
    db.close()
    # --max-drawdown arms both the strategy's risk guard (spec.risk) and the live kill switch
    spec = RunSpec(strategy=BUY, params={"size": 0}, symbols=["AAA"], risk={"max_drawdown": 0.2})
    run = SessionThread(fake, spec, str(path), backfill=n, limits=SafetyLimits(max_drawdown=0.2)).start(fake, ["AAA"])
    db = StateDB(path)
    try:
        run.wait_steps(n)
        time.sleep(0.3)
        assert db.halted() is None
        assert fake.positions() == {"AAA": 100}
        assert not [r for r in fake.requests if r[1] == "DELETE"]
        assert db.last_equity() is None and db.equity_peak() is None  # no snapshot from replayed bars
        live = bars.iloc[n].copy()
        live[["open", "high", "low", "close"]] = price
        from tests.live.live_helpers import push_daily

        push_daily(fake, "AAA", bars.index[n], live)
        run.wait_steps(n + 1)
        wait_until(lambda: db.last_equity() is not None, what="first live equity snapshot")
    finally:
        run.stop()
    assert db.halted() is None and fake.positions() == {"AAA": 100}
    assert db.equity_peak() == pytest.approx(1_000.0 + 100 * price)  # the account's real equity


# -- 2. caps count resting orders ------------------------------------------------------------


def test_position_cap_counts_resting_orders_not_yet_filled(fake_alpaca, tmp_path):
    fake = fake_alpaca
    run, bars = start_session(fake, tmp_path, BUY, ["AAA"], params={"size": 10})
    price = float(bars["AAA"]["close"].iloc[5])
    run.session.killswitch.limits.max_position = 25 * price  # two resting orders fit, a third does not
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        for day in (5, 6, 7, 8):
            push_day(fake, run, bars, day, wait=False)
            time.sleep(0.15)
        wait_until(lambda: db.halted() is not None, what="halt")
    finally:
        run.stop()
    assert len(fake.submit_attempts) == 2  # nothing filled, yet the third order was refused
    assert "projected position" in db.halted() and "open orders 20" in db.halted()


def test_sizer_cash_sees_open_and_waiting_orders(fake_alpaca, tmp_path):
    fake = fake_alpaca
    fake.set_clock(False)
    run, bars = start_session(fake, tmp_path, BUY, ["AAA"], params={"size": 4})
    try:
        push_day(fake, run, bars, 5)
        broker = run.session.broker
        wait_until(lambda: broker.get_orders_open(), what="an open order")
        (order,) = broker.get_orders_open()
        assert order.isbuy() and order.size == 4
        assert broker.pending("AAA") == (4, 0)
    finally:
        run.stop()


# -- 3. outside trades -----------------------------------------------------------------------


def test_outside_partial_sale_updates_the_view_at_once_and_the_exit_never_flips_short(fake_alpaca, tmp_path):
    fake = fake_alpaca
    fake.auto_fill = True
    run, bars = start_session(fake, tmp_path, BUY_CLOSE, ["AAA"], params={"size": 100, "buy_at": 6, "close_at": 7})
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        push_day(fake, run, bars, 5)
        wait_until(lambda: db.positions().get("AAA", {}).get("qty") == 100, what="the buy filled")
        _outside_sell(fake, "AAA", 30, "manual-sale-1")
        wait_until(lambda: run.session.broker.positions["AAA"].size == 70, what="view updated to 70")
        assert db.positions()["AAA"]["qty"] == 70
        push_day(fake, run, bars, 6)
        wait_until(lambda: "AAA" not in fake.positions(), what="the exit filled")
        time.sleep(0.2)
    finally:
        run.stop()
    assert fake.positions() == {} and db.positions() == {}
    assert db.halted() is None
    assert [float(a["qty"]) for a in fake.submit_attempts] == [100, 30, 70]


def test_outside_sale_that_turns_the_position_short_halts_with_a_clear_message(fake_alpaca, tmp_path):
    fake = fake_alpaca
    fake.auto_fill = True
    run, bars = start_session(fake, tmp_path, BUY_CLOSE, ["AAA"], params={"size": 100, "buy_at": 6, "close_at": 8})
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        push_day(fake, run, bars, 5)
        wait_until(lambda: db.positions().get("AAA", {}).get("qty") == 100, what="the buy filled")
        _outside_sell(fake, "AAA", 130, "manual-sale-2")
        wait_until(lambda: db.halted() is not None, what="halt")
        run.thread.join(10)
    finally:
        run.stop()
    assert "flipped from long to short" in db.halted() and "100 -> -30" in db.halted()
    assert run.code == 3
    assert len(fake.submit_attempts) == 2  # autostock sent nothing after the flip
    assert fake.positions() == {"AAA": -30}  # a halt does not trade


def test_outside_sale_missed_by_the_stream_is_found_by_the_rest_poll(fake_alpaca, tmp_path):
    fake = fake_alpaca
    fake.auto_fill = True
    run, bars = start_session(
        fake, tmp_path, BUY_CLOSE, ["AAA"], params={"size": 100, "buy_at": 6, "close_at": 9}, **FAST_POLL
    )
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        push_day(fake, run, bars, 5)
        wait_until(lambda: db.positions().get("AAA", {}).get("qty") == 100, what="the buy filled")
        fake.hold_events()  # the outside fill's event never arrives
        _outside_sell(fake, "AAA", 40, "manual-sale-3")
        wait_until(lambda: run.session.broker.positions["AAA"].size == 60, what="view updated by REST")
    finally:
        run.stop()
    assert db.positions()["AAA"]["qty"] == 60 and db.halted() is None
    assert any("changed outside autostock (broker position read by REST)" in e["message"] for e in db.events(50))


def test_restart_refuses_a_short_that_a_long_only_strategy_cannot_have_produced(fake_alpaca, tmp_path):
    from autostock.live.reconcile import reconcile

    fake = fake_alpaca
    db = StateDB(tmp_path / "s.sqlite")
    db.record_order("as-x-1", symbol="AAA", side="buy", qty=100, type="market", status="filled", alpaca_id="gone")
    db.set_position("AAA", 100, 10.0)
    fake.set_position("AAA", -100, 10.0)
    rep = reconcile(make_store(fake), db, long_only=True)
    assert rep.mismatches and "could not have produced" in db.halted()


# -- 4. a connected but silent trade-updates stream ------------------------------------------


def test_silent_trade_stream_fills_arrive_by_rest_poll_once_and_the_stream_is_reconnected(fake_alpaca, tmp_path):
    fake = fake_alpaca
    run, bars = start_session(fake, tmp_path, BUY, ["AAA"], params={"size": 7}, **FAST_POLL)
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        fake.hold_events()  # connected, authorised, listening - and silent
        push_day(fake, run, bars, 5)
        oid = wait_until(lambda: next(iter(fake.orders), None), what="order")
        fake.fill(oid, price=101.0)
        wait_until(lambda: len(db.fills()) == 1, what="the fill, by REST poll")
        wait_until(lambda: run.store.reconnects["trade"] >= 2, what="watchdog reconnect of the trade stream")
        fake.release_events(deliver=True)  # the stream's late copies change nothing
        time.sleep(0.5)
    finally:
        run.stop()
    assert [(f["qty"], f["source"]) for f in db.fills()] == [(7, "rest")]
    assert db.positions()["AAA"]["qty"] == 7 == run.session.broker.positions["AAA"].size
    assert any(e["kind"] == "stale-stream" for e in db.events(50))


# -- 6. REST outage after a reconnect --------------------------------------------------------


def test_failed_catch_up_blocks_new_orders_until_it_succeeds(fake_alpaca, tmp_path):
    fake = fake_alpaca
    run, bars = start_session(fake, tmp_path, BUY, ["AAA"], params={"size": 1}, **FAST_POLL)
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        fake.fail_next("GET", r"/v2/positions$", status=500, times=10_000)
        assert fake.drop_streams(data=False) == 1  # reconnect -> catch-up, which fails
        wait_until(lambda: run.store.reconnects["trade"] >= 2, what="reconnect")
        push_day(fake, run, bars, 5)
        time.sleep(0.3)
        assert fake.submit_attempts == []
        assert any("catch-up with the broker not finished" in e["message"] for e in db.events(50))
        with fake._lock:
            fake._faults.clear()
        push_day(fake, run, bars, 6)
        wait_until(lambda: len(fake.submit_attempts) == 1, what="order after the catch-up")
    finally:
        run.stop()
    assert run.error is None and any(e["kind"] == "catchup" for e in db.events(50))


def test_read_outage_longer_than_the_limit_stops_with_exit_4_and_no_traceback(fake_alpaca, tmp_path):
    fake = fake_alpaca
    run, _ = start_session(fake, tmp_path, BUY, ["AAA"], params={"size": 1}, outage_limit=1.0, **FAST_POLL)
    fake.fail_next("GET", r"/v2/(positions|orders)", status=503, times=100_000)
    run.thread.join(15)
    assert not run.thread.is_alive()
    assert run.error is None and run.code == 4
    assert "unreachable" in run.session.stop_reason
    db = StateDB(tmp_path / "paper.sqlite")
    assert any(e["kind"] == "outage" for e in db.events(50)) and db.halted() is None
    run.stop()


# -- 7. 429: bounded ------------------------------------------------------------------------


def test_persistent_429_fails_the_request_after_the_bounded_wait(fake_alpaca):
    from autostock.live.store import RateLimited

    fake = fake_alpaca
    fake.rate_limit_per_minute, fake.rate_limit_window_s = 2, 30.0
    store = make_store(fake, max_rate_wait=0.5)
    store.clock()
    store.clock()
    with pytest.raises(RateLimited, match="still rate limited"):
        store.clock()
    assert fake.rate_limited_count >= 1


def test_stop_interrupts_a_rate_limit_wait_at_once(fake_alpaca):
    import threading

    from autostock.live.waits import Interrupted

    fake = fake_alpaca
    fake.rate_limit_per_minute, fake.rate_limit_window_s = 1, 30.0
    store = make_store(fake)  # default bound: 60 s
    store.clock()
    caught: list[BaseException] = []

    def call() -> None:
        try:
            store.clock()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            caught.append(exc)

    t = threading.Thread(target=call)
    t.start()
    wait_until(lambda: fake.rate_limited_count >= 1, what="a 429")
    store.stopper.set()
    t.join(2.0)
    assert not t.is_alive() and isinstance(caught[0], Interrupted)


# -- 8. backfill writes ----------------------------------------------------------------------


def test_backfill_writes_one_summary_and_nothing_per_replayed_bar_or_order(fake_alpaca, tmp_path):
    fake = fake_alpaca
    run, bars = start_session(fake, tmp_path, BUY, ["AAA", "BBB"], params={"size": 1}, history=40)
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        time.sleep(0.2)
        kinds = [e["kind"] for e in db.events(500)]
        assert kinds.count("backfill") == 1 and "skipped" not in kinds and "blocked" not in kinds
        assert "80 order(s) decided on history not sent" in db.events(5, kind="backfill")[0]["message"]
        assert db.last_equity() is None
        assert db.orders() == [] and fake.submit_attempts == []
        push_day(fake, run, bars, 40)
        wait_until(lambda: len(fake.submit_attempts) == 2, what="the live bar's orders")
    finally:
        run.stop()


# -- 9. market clock closed ------------------------------------------------------------------


def test_orders_decided_while_the_market_is_closed_wait_for_the_open(fake_alpaca, tmp_path):
    fake = fake_alpaca
    fake.set_clock(False)
    run, bars = start_session(fake, tmp_path, BUY, ["AAA"], params={"size": 2})
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        push_day(fake, run, bars, 5)
        time.sleep(0.6)
        assert fake.submit_attempts == []
        assert any(e["kind"] == "wait" for e in db.events(50))
        fake.set_clock(True)
        wait_until(lambda: len(fake.submit_attempts) == 1, what="the order at the open")
    finally:
        run.stop()
    assert fake.submit_attempts[0]["time_in_force"] == "day"


def test_an_opg_order_goes_out_while_the_market_is_closed(fake_alpaca, tmp_path):
    fake = fake_alpaca
    fake.set_clock(False)
    run, bars = start_session(fake, tmp_path, BUY, ["AAA"], params={"size": 2}, tif="opg")
    try:
        push_day(fake, run, bars, 5)
        wait_until(lambda: len(fake.submit_attempts) == 1, what="the opg order")
    finally:
        run.stop()
    assert fake.submit_attempts[0]["time_in_force"] == "opg"
