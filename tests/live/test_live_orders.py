"""Orders through the Alpaca adapter against the loopback server: mapping, statuses, fills,
and submits that never create a second order."""

from __future__ import annotations

import pytest
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from autostock.live.retry import AmbiguousSubmit
from autostock.live.state import StateDB
from tests.live.live_helpers import BuyEveryBar, OrderMenu, make_store, push_day, start_session, wait_until


def _request(cid: str, symbol: str = "AAA", qty: float = 5) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=cid
    )


def test_accept_then_timeout_on_submit_leaves_exactly_one_order(fake_alpaca):
    store = make_store(fake_alpaca, timeout=0.5)
    fake_alpaca.accept_then_timeout_next_submit(delay=2.0)
    order = store.submit(_request("cid-timeout-1"), "cid-timeout-1")
    assert order["client_order_id"] == "cid-timeout-1"
    assert len(fake_alpaca.orders_by_client_id("cid-timeout-1")) == 1
    assert len(fake_alpaca.orders) == 1
    assert len(fake_alpaca.submit_attempts) == 1  # resolved by lookup, not by sending again


def test_duplicate_id_422_means_the_order_exists(fake_alpaca):
    store = make_store(fake_alpaca)
    first = store.submit(_request("cid-dup-1"), "cid-dup-1")
    again = store.submit(_request("cid-dup-1"), "cid-dup-1")
    assert again["id"] == first["id"]
    assert len(fake_alpaca.orders) == 1


def test_5xx_after_processing_on_submit_is_resolved_without_a_second_order(fake_alpaca):
    store = make_store(fake_alpaca)
    fake_alpaca.fail_next("POST", r"/v2/orders$", status=503, after_processing=True)
    order = store.submit(_request("cid-5xx-1"), "cid-5xx-1")
    assert order["status"] in ("new", "accepted", "pending_new")
    assert len(fake_alpaca.orders_by_client_id("cid-5xx-1")) == 1


def test_5xx_before_processing_resends_under_the_same_id_once(fake_alpaca):
    store = make_store(fake_alpaca)
    fake_alpaca.fail_next("POST", r"/v2/orders$", status=500)
    store.submit(_request("cid-5xx-2"), "cid-5xx-2")
    assert len(fake_alpaca.orders_by_client_id("cid-5xx-2")) == 1
    assert len(fake_alpaca.orders) == 1


def test_submit_that_stays_unknown_is_ambiguous_not_rejected(fake_alpaca):
    store = make_store(fake_alpaca)
    fake_alpaca.fail_next("POST", r"/v2/orders$", status=0, times=10)  # connection dropped, nothing created
    fake_alpaca.fail_next("GET", r"by_client_order_id", status=503, times=50)
    with pytest.raises(AmbiguousSubmit):
        store.submit(_request("cid-amb-1"), "cid-amb-1")
    assert not fake_alpaca.orders


def test_reads_retry_5xx_with_backoff(fake_alpaca):
    store = make_store(fake_alpaca)
    fake_alpaca.fail_next("GET", r"/v2/account$", status=503, times=2)
    fake_alpaca.fail_next("GET", r"/v2/positions$", status=500, times=3)
    assert float(store.account()["cash"]) == 100_000.0
    assert store.positions() == {}
    fake_alpaca.fail_next("GET", r"/v2/clock$", status=502, times=20)
    with pytest.raises(Exception):
        store.clock()


def test_order_types_map_to_alpaca_and_canceled_is_not_rejected(fake_alpaca, tmp_path):
    OrderMenu.notes.clear()
    run, bars = start_session(fake_alpaca, tmp_path, "tests.live.live_helpers:OrderMenu", ["AAA"])
    try:
        push_day(fake_alpaca, run, bars, 5)
        wait_until(lambda: len(fake_alpaca.orders) >= 4, what="orders at the server")
        top = {
            o["client_order_id"]: o
            for o in fake_alpaca.orders.values()
            if o.get("order_class") != "bracket" or o.get("legs")
        }
        kinds = sorted(
            (o["type"], o["side"], o.get("order_class") or "simple")
            for o in top.values()
            if not o["client_order_id"].endswith(("-tp", "-sl")) and o["client_order_id"].startswith("as-")
        )
        assert kinds == [
            ("limit", "buy", "bracket"),
            ("limit", "buy", "simple"),
            ("stop", "sell", "simple"),
            ("stop_limit", "buy", "simple"),
        ]
        bracket = next(o for o in top.values() if o.get("order_class") == "bracket" and o.get("legs"))
        assert sorted(leg["type"] for leg in bracket["legs"]) == ["limit", "stop"]
        wait_until(lambda: sum(n[2] == "Accepted" for n in OrderMenu.notes) == 6, what="all six orders Accepted")
        limit = next(o for o in top.values() if o["type"] == "limit" and o.get("order_class") != "bracket")
        fake_alpaca.cancel(limit["id"])
        wait_until(lambda: any(n[2] == "Canceled" for n in OrderMenu.notes), what="Canceled notification")
    finally:
        run.stop()
    assert not any(n[2] == "Rejected" for n in OrderMenu.notes)
    db = StateDB(tmp_path / "paper.sqlite")
    assert {r["status"] for r in db.orders() if r["alpaca_id"] == limit["id"]} == {"canceled"}


def test_partial_fills_are_applied_incrementally_and_replays_out_of_order_once(fake_alpaca, tmp_path):
    BuyEveryBar.notes.clear()
    run, bars = start_session(
        fake_alpaca, tmp_path, "tests.live.live_helpers:BuyEveryBar", ["AAA"], params={"size": 10}
    )
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        push_day(fake_alpaca, run, bars, 5)
        oid = wait_until(lambda: next(iter(fake_alpaca.orders), None), what="order")
        first = fake_alpaca.fill(oid, qty=4, price=100.0)
        wait_until(lambda: len(db.fills()) == 1, what="partial fill applied")
        fake_alpaca.hold_events()
        second = fake_alpaca.fill(oid, qty=6, price=110.0)
        fake_alpaca.release_events()  # lost, as after a gap
        # replays: the final fill, the first partial again, the final fill again
        for event in (second, first, second, first):
            fake_alpaca.send_raw_trade_update(event)
        wait_until(lambda: db.get_order(db.fills()[0]["cid"])["filled_qty"] == 10, what="final fill applied")
        wait_until(lambda: "Completed" in [n[1] for n in BuyEveryBar.notes], what="Completed")
    finally:
        run.stop()
    fills = db.fills()
    assert [f["qty"] for f in fills] == [4, 6]
    assert fills[1]["price"] == pytest.approx(110.0)
    assert db.positions()["AAA"]["qty"] == 10 == fake_alpaca.positions()["AAA"]
    assert "Partial" in [n[1] for n in BuyEveryBar.notes]
    done = [n for n in BuyEveryBar.notes if n[1] == "Completed"]
    assert len(done) == 1 and done[0][2] == 10
