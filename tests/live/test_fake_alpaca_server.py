"""Self-tests of the Alpaca loopback server: alpaca-py's own clients must work against it, and
every fault it injects must behave as documented (docs/live-testing.md)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import msgpack
import pandas as pd
import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import StockDataStream
from alpaca.data.requests import StockBarsRequest, StockLatestBarRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, OrderType, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
)
from alpaca.trading.stream import TradingStream
from websockets.sync.client import connect as ws_connect

from tests.live.conftest import FAKE_KEY_ID, FAKE_SECRET
from tests.live.fake_alpaca import FakeAlpaca

# ------------------------------------------------------------------------------- helpers


def trading(fake: FakeAlpaca, secret: str = FAKE_SECRET) -> TradingClient:
    return TradingClient(FAKE_KEY_ID, secret, paper=True, url_override=fake.base_url)


def market_data(fake: FakeAlpaca) -> StockHistoricalDataClient:
    return StockHistoricalDataClient(FAKE_KEY_ID, FAKE_SECRET, url_override=fake.data_url)


def daily_bars(start: str, closes: list[float]) -> pd.DataFrame:
    idx = pd.date_range(start, periods=len(closes), freq="B", tz="America/New_York")
    c = pd.Series(closes, index=idx, dtype=float)
    return pd.DataFrame({"Open": c - 0.5, "High": c + 1, "Low": c - 1, "Close": c, "Volume": 1000}, index=idx)


def headers(secret: str = FAKE_SECRET) -> dict[str, str]:
    return {"APCA-API-KEY-ID": FAKE_KEY_ID, "APCA-API-SECRET-KEY": secret}


@contextlib.contextmanager
def running(fake: FakeAlpaca, stream):
    """Run an alpaca-py stream in a thread; stop it quickly afterwards (alpaca-py only notices a
    stop request when a message arrives or after a 5 s receive timeout, so drop the socket)."""
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    try:
        yield stream
    finally:
        if stream._loop is not None:
            stream.stop()
        fake.drop_streams()
        thread.join(timeout=5)
        assert not thread.is_alive()


@contextlib.contextmanager
def trade_updates(fake: FakeAlpaca):
    received: list = []
    stream = TradingStream(FAKE_KEY_ID, FAKE_SECRET, url_override=fake.trading_ws_url)

    async def on_update(update):
        received.append(update)

    stream.subscribe_trade_updates(on_update)
    with running(fake, stream):
        fake.wait_trading_listeners(1, timeout=5)
        yield received


def quiet_for(seconds: float, received: list, n: int) -> bool:
    time.sleep(seconds)
    return len(received) == n


# ------------------------------------------------------------------------------- REST: account


def test_account_clock_assets_and_auth(fake_alpaca):
    client = trading(fake_alpaca)
    account = client.get_account()
    assert float(account.cash) == 100_000 and float(account.equity) == 100_000
    assert float(account.buying_power) == 100_000 and account.status.value == "ACTIVE"

    assert client.get_clock().is_open
    fake_alpaca.set_clock(False, timestamp="2024-01-06T12:00:00Z", next_open="2024-01-08T14:30:00Z")
    clock = client.get_clock()
    assert not clock.is_open
    assert clock.timestamp == pd.Timestamp("2024-01-06T12:00:00Z")
    assert clock.next_open == pd.Timestamp("2024-01-08T14:30:00Z")

    asset = client.get_asset("AAPL")
    assert asset.symbol == "AAPL" and asset.fractionable and asset.tradable
    fake_alpaca.set_asset("GONE", exists=False)
    with pytest.raises(APIError) as err:
        client.get_asset("GONE")
    assert err.value.status_code == 404

    with pytest.raises(APIError) as err:
        trading(fake_alpaca, secret="wrong").get_account()
    assert err.value.status_code == 401
    bad_data = StockHistoricalDataClient(FAKE_KEY_ID, "wrong", url_override=fake_alpaca.data_url)
    with pytest.raises(APIError) as err:
        bad_data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="AAPL"))
    assert err.value.status_code == 401
    assert ("GET", "/v2/account") in [(m, p) for _, m, p in fake_alpaca.requests]


# ------------------------------------------------------------------------------- REST: orders


def test_orders_submit_get_list_cancel(fake_alpaca):
    client = trading(fake_alpaca)
    tif = TimeInForce.DAY
    market = client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=1.5, side=OrderSide.BUY, time_in_force=tif, client_order_id="run1-AAPL-1")
    )
    assert market.status == OrderStatus.PENDING_NEW and float(market.qty) == 1.5
    assert market.order_class == OrderClass.SIMPLE
    limit = client.submit_order(
        LimitOrderRequest(
            symbol="MSFT",
            qty=3,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=99.5,
            client_order_id="run1-MSFT-1",
        )
    )
    stop = client.submit_order(
        StopOrderRequest(symbol="MSFT", qty=1, side=OrderSide.SELL, time_in_force=tif, stop_price=90)
    )
    stop_limit = client.submit_order(
        StopLimitOrderRequest(
            symbol="MSFT", qty=1, side=OrderSide.SELL, time_in_force=tif, stop_price=90, limit_price=89
        )
    )
    assert (limit.type, stop.type, stop_limit.type) == (OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT)
    assert float(stop_limit.limit_price) == 89 and float(stop_limit.stop_price) == 90

    by_cid = client.get_order_by_client_id("run1-AAPL-1")
    assert by_cid.id == market.id and by_cid.status == OrderStatus.NEW
    assert client.get_order_by_id(limit.id).limit_price == "99.5"
    assert len(client.get_orders()) == 4  # default: open orders
    open_msft = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, symbols=["MSFT"]))
    assert {o.id for o in open_msft} == {limit.id, stop.id, stop_limit.id}

    client.cancel_order_by_id(limit.id)
    assert client.get_order_by_id(limit.id).status == OrderStatus.CANCELED
    with pytest.raises(APIError) as err:
        client.cancel_order_by_id(limit.id)
    assert err.value.status_code == 422
    closed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    assert [o.id for o in closed] == [limit.id]
    with pytest.raises(APIError) as err:
        client.get_order_by_client_id("no-such-order")
    assert err.value.status_code == 404

    assert fake_alpaca.orders[str(limit.id)]["status"] == "canceled"
    assert [o["id"] for o in fake_alpaca.orders_by_client_id("run1-AAPL-1")] == [str(market.id)]
    assert len(fake_alpaca.submit_attempts) == 4

    replaced = client.replace_order_by_id(stop.id, ReplaceOrderRequest(stop_price=91))
    assert replaced.replaces == stop.id and float(replaced.stop_price) == 91
    assert client.get_order_by_id(stop.id).status == OrderStatus.REPLACED


def test_duplicate_client_order_id_is_422(fake_alpaca):
    client = trading(fake_alpaca)
    request = MarketOrderRequest(
        symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id="dup-1"
    )
    client.submit_order(request)
    with pytest.raises(APIError) as err:
        client.submit_order(request)
    assert err.value.status_code == 422
    assert json.loads(str(err.value)) == {"code": 40010001, "message": "client_order_id must be unique"}
    assert len(fake_alpaca.submit_attempts) == 2
    assert len(fake_alpaca.orders_by_client_id("dup-1")) == 1


def test_validation_and_buying_power(fake_alpaca):
    session = requests.Session()
    url = fake_alpaca.base_url + "/v2/orders"

    def post(**body):
        return session.post(url, json=body, headers=headers(), timeout=5)

    assert post(symbol="AAPL", qty=0.5, side="buy", type="market", time_in_force="gtc").status_code == 422
    assert post(symbol="AAPL", qty=1, side="buy", type="limit", time_in_force="day").status_code == 422
    r = post(symbol="AAPL", qty=10_000, side="buy", type="limit", limit_price=50, time_in_force="day")
    assert r.status_code == 403 and r.json()["message"] == "insufficient buying power"
    fake_alpaca.set_asset("LOCK", fractionable=False)
    assert post(symbol="LOCK", qty=0.5, side="buy", type="market", time_in_force="day").status_code == 422
    r = post(symbol="AAPL", notional=250, side="buy", type="market", time_in_force="day")
    assert r.status_code == 200 and r.json()["notional"] == "250" and r.json()["qty"] is None
    fill = fake_alpaca.fill(r.json()["id"], price=100)
    assert fill["qty"] == "2.5" and fake_alpaca.positions() == {"AAPL": 2.5}
    fake_alpaca.set_asset("GONE", exists=False)
    assert post(symbol="GONE", qty=1, side="buy", type="market", time_in_force="day").status_code == 422
    assert list(fake_alpaca.orders) == [r.json()["id"]]  # rejected submits leave no order
    assert len(fake_alpaca.submit_attempts) == 6


def test_fills_positions_cash_and_activities(fake_alpaca):
    client = trading(fake_alpaca)
    order = client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    first = fake_alpaca.fill(str(order.id), qty=4, price=100)
    second = fake_alpaca.fill(str(order.id), price=110)
    assert (first["event"], second["event"]) == ("partial_fill", "fill")
    assert (first["qty"], first["position_qty"], second["qty"], second["position_qty"]) == ("4", "4", "6", "10")
    assert first["execution_id"] != second["execution_id"]
    with pytest.raises(ValueError):
        fake_alpaca.fill(str(order.id))

    got = client.get_order_by_id(order.id)
    assert got.status == OrderStatus.FILLED and float(got.filled_qty) == 10
    assert float(got.filled_avg_price) == pytest.approx(106)
    position = client.get_open_position("AAPL")
    assert float(position.qty) == 10 and float(position.avg_entry_price) == pytest.approx(106)
    assert fake_alpaca.cash == pytest.approx(100_000 - 1060)
    assert float(client.get_account().cash) == pytest.approx(98_940)

    fills = requests.get(
        fake_alpaca.base_url + "/v2/account/activities", params={"activity_types": "FILL"}, headers=headers(), timeout=5
    ).json()
    assert [(a["type"], a["qty"], a["cum_qty"], a["leaves_qty"]) for a in fills] == [
        ("fill", "6", "10", "0"),
        ("partial_fill", "4", "4", "6"),
    ]  # newest first
    sell = client.close_position("AAPL")
    fake_alpaca.fill(str(sell.id), price=120)
    assert fake_alpaca.positions() == {}
    assert fake_alpaca.cash == pytest.approx(100_000 + 140)
    with pytest.raises(APIError) as err:
        client.get_open_position("AAPL")
    assert err.value.status_code == 404


def test_bracket_order_legs(fake_alpaca):
    client = trading(fake_alpaca)
    order = client.submit_order(
        MarketOrderRequest(
            symbol="AAPL",
            qty=5,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=120),
            stop_loss=StopLossRequest(stop_price=90),
        )
    )
    assert order.order_class == OrderClass.BRACKET and len(order.legs) == 2
    take_profit, stop_loss = order.legs
    assert (take_profit.type, take_profit.side, float(take_profit.limit_price)) == (
        OrderType.LIMIT,
        OrderSide.SELL,
        120,
    )
    assert (stop_loss.type, float(stop_loss.stop_price)) == (OrderType.STOP, 90)
    assert take_profit.status == OrderStatus.HELD

    fake_alpaca.fill(str(order.id), price=100)
    legs = client.get_order_by_id(order.id).legs
    assert [leg.status for leg in legs] == [OrderStatus.NEW, OrderStatus.HELD]
    fake_alpaca.fill(str(take_profit.id))
    assert client.get_order_by_id(take_profit.id).status == OrderStatus.FILLED
    assert client.get_order_by_id(stop_loss.id).status == OrderStatus.CANCELED
    assert fake_alpaca.positions() == {}
    nested = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True))
    assert [o.id for o in nested] == [order.id] and len(nested[0].legs) == 2


def test_auto_fill_and_resting_orders(fake_alpaca):
    client = trading(fake_alpaca)
    fake_alpaca.add_bars("AAPL", daily_bars("2024-01-02", [100, 101, 102]))
    fake_alpaca.auto_fill = True
    market = client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    assert fake_alpaca.orders[str(market.id)]["status"] == "filled"
    assert fake_alpaca.orders[str(market.id)]["filled_avg_price"] == "102"
    limit = client.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=95)
    )
    assert client.get_order_by_id(limit.id).status == OrderStatus.NEW
    fake_alpaca.push_bar("AAPL", {"t": "2024-01-05T05:00:00Z", "o": 97, "h": 98, "l": 94, "c": 96, "v": 10})
    filled = client.get_order_by_id(limit.id)
    assert filled.status == OrderStatus.FILLED and float(filled.filled_avg_price) == 95
    assert fake_alpaca.positions() == {"AAPL": 3}

    fake_alpaca.set_clock(False)
    queued = client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    assert client.get_order_by_id(queued.id).status == OrderStatus.ACCEPTED
    fake_alpaca.set_clock(True)
    assert client.get_order_by_id(queued.id).status == OrderStatus.FILLED


# ------------------------------------------------------------------------------- REST: data


def test_bars_multi_symbol_in_one_request(fake_alpaca):
    fake_alpaca.add_bars("AAPL", daily_bars("2024-01-02", [100, 101, 102, 103]))
    fake_alpaca.add_bars("MSFT", daily_bars("2024-01-02", [300, 301, 302, 303]))
    data = market_data(fake_alpaca)
    bars = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols=["AAPL", "MSFT", "NODATA"], timeframe=TimeFrame.Day, start=pd.Timestamp("2024-01-03")
        )
    )
    assert set(bars.data) == {"AAPL", "MSFT"}
    assert [b.close for b in bars["AAPL"]] == [101, 102, 103]
    assert bars["MSFT"][0].timestamp == pd.Timestamp("2024-01-03", tz="America/New_York")
    assert [p for _, m, p in fake_alpaca.requests if p.startswith("/v2/stocks")] == ["/v2/stocks/bars"]

    fake_alpaca.bars_page_limit = 3  # pagination: alpaca-py follows next_page_token
    bars = data.get_stock_bars(StockBarsRequest(symbol_or_symbols=["AAPL", "MSFT"], timeframe=TimeFrame.Day))
    assert len(bars["AAPL"]) == 4 and len(bars["MSFT"]) == 4
    assert sum(p == "/v2/stocks/bars" for _, _, p in fake_alpaca.requests) == 1 + 3

    latest = data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols=["AAPL", "MSFT"]))
    assert (latest["AAPL"].close, latest["MSFT"].close) == (103, 303)

    minutes = pd.date_range("2024-01-08 14:30", periods=120, freq="min", tz="UTC")
    fake_alpaca.add_bars(
        "TSLA", pd.DataFrame({"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10}, index=minutes)
    )
    hourly = data.get_stock_bars(StockBarsRequest(symbol_or_symbols="TSLA", timeframe=TimeFrame.Hour))
    assert [b.volume for b in hourly["TSLA"]] == [300, 600, 300]
    daily = data.get_stock_bars(StockBarsRequest(symbol_or_symbols="TSLA", timeframe=TimeFrame.Day))
    assert [(b.timestamp, b.volume) for b in daily["TSLA"]] == [
        (pd.Timestamp("2024-01-08", tz="America/New_York"), 1200)
    ]


# ------------------------------------------------------------------------------- websockets


def test_trade_updates_stream_receives_events(fake_alpaca):
    client = trading(fake_alpaca)
    with trade_updates(fake_alpaca) as received:
        order = client.submit_order(
            MarketOrderRequest(symbol="AAPL", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
        )
        fake_alpaca.fill(str(order.id), qty=1, price=10)
        fake_alpaca.fill(str(order.id), price=11)
        fake_alpaca.wait_for(lambda: len(received) == 3, timeout=5)
    assert [u.event for u in received] == ["new", "partial_fill", "fill"]
    assert [(u.qty, u.position_qty, u.price) for u in received[1:]] == [(1, 1, 10), (2, 3, 11)]
    assert received[2].order.status == OrderStatus.FILLED and received[2].order.id == order.id
    assert len({u.execution_id for u in received}) == 3


def test_trade_updates_cancel_reject_replay_and_out_of_order(fake_alpaca):
    client = trading(fake_alpaca)
    request = dict(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=5)
    with trade_updates(fake_alpaca) as received:
        a = client.submit_order(LimitOrderRequest(**request))
        b = client.submit_order(LimitOrderRequest(**request))
        fake_alpaca.cancel(str(a.id))
        fake_alpaca.reject(str(b.id))
        fake_alpaca.wait_for(lambda: len(received) == 4, timeout=5)
        events = fake_alpaca.trade_events
        assert [e["event"] for e in events] == ["new", "new", "canceled", "rejected"]
        fake_alpaca.send_raw_trade_update(events[2])  # replay
        fake_alpaca.send_raw_trade_update(events[0])  # out of order
        fake_alpaca.wait_for(lambda: len(received) == 6, timeout=5)
    assert [u.event for u in received] == ["new", "new", "canceled", "rejected", "canceled", "new"]
    assert received[4].execution_id == received[2].execution_id
    assert received[5].order.status == OrderStatus.NEW  # a stale snapshot, as replays are


def test_data_stream_receives_bars_and_rest_history_grows(fake_alpaca):
    received: list = []
    stream = StockDataStream(FAKE_KEY_ID, FAKE_SECRET, url_override=fake_alpaca.data_stream_url)

    async def on_bar(bar):
        received.append(bar)

    stream.subscribe_bars(on_bar, "AAPL", "MSFT")
    with running(fake_alpaca, stream):
        fake_alpaca.wait_data_subscribed(["AAPL", "MSFT"], timeout=5)
        fake_alpaca.push_bar("AAPL", {"t": "2024-01-08T14:31:00Z", "o": 1, "h": 3, "l": 0.5, "c": 2, "v": 500})
        fake_alpaca.push_bar("TSLA", {"t": "2024-01-08T14:31:00Z", "c": 9})  # not subscribed
        fake_alpaca.push_bar("MSFT", {"t": "2024-01-08T14:31:00Z", "c": 7})
        fake_alpaca.wait_for(lambda: len(received) == 2, timeout=5)
    assert [(b.symbol, b.close) for b in received] == [("AAPL", 2), ("MSFT", 7)]
    assert received[0].timestamp == pd.Timestamp("2024-01-08T14:31:00Z") and received[0].volume == 500
    history = market_data(fake_alpaca).get_stock_bars(
        StockBarsRequest(symbol_or_symbols=["AAPL", "TSLA"], timeframe=TimeFrame.Minute)
    )
    assert history["AAPL"][0].high == 3 and history["TSLA"][0].close == 9


def test_websocket_protocol_and_auth_failures(fake_alpaca):
    with ws_connect(fake_alpaca.trading_ws_url) as ws:
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": FAKE_KEY_ID, "secret_key": "bad"}}))
        reply = ws.recv(timeout=5)
        assert isinstance(reply, bytes)  # paper-api sends JSON in binary frames
        assert json.loads(reply)["data"]["status"] == "unauthorized"
    with ws_connect(fake_alpaca.trading_ws_url) as ws:
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": FAKE_KEY_ID, "secret_key": FAKE_SECRET}}))
        assert json.loads(ws.recv(timeout=5))["data"]["status"] == "authorized"
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert json.loads(ws.recv(timeout=5)) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}

    msgpack_headers = {"Content-Type": "application/msgpack"}
    with ws_connect(fake_alpaca.data_stream_url, additional_headers=msgpack_headers) as ws:
        assert msgpack.unpackb(ws.recv(timeout=5)) == [{"T": "success", "msg": "connected"}]
        ws.send(msgpack.packb({"action": "subscribe", "bars": ["AAPL"]}))
        assert msgpack.unpackb(ws.recv(timeout=5))[0]["code"] == 401
        ws.send(msgpack.packb({"action": "auth", "key": FAKE_KEY_ID, "secret": "bad"}))
        assert msgpack.unpackb(ws.recv(timeout=5)) == [{"T": "error", "code": 402, "msg": "auth failed"}]
    with ws_connect(fake_alpaca.data_stream_url) as first, ws_connect(fake_alpaca.data_stream_url) as second:
        for ws in (first, second):  # without the msgpack header the stream speaks JSON text
            assert json.loads(ws.recv(timeout=5)) == [{"T": "success", "msg": "connected"}]
            ws.send(json.dumps({"action": "auth", "key": FAKE_KEY_ID, "secret": FAKE_SECRET}))
        assert json.loads(first.recv(timeout=5)) == [{"T": "success", "msg": "authenticated"}]
        assert json.loads(second.recv(timeout=5))[0]["code"] == 406  # one data stream per account
        first.send(json.dumps({"action": "subscribe", "bars": ["AAPL"], "trades": ["AAPL"]}))
        sub = json.loads(first.recv(timeout=5))[0]
        assert sub["T"] == "subscription" and sub["bars"] == ["AAPL"] and sub["corrections"] == ["AAPL"]
        fake_alpaca.push_trade("AAPL", 101.5)
        trade = json.loads(first.recv(timeout=5))[0]
        assert (trade["T"], trade["S"], trade["p"]) == ("t", "AAPL", 101.5) and trade["t"].endswith("Z")


# ------------------------------------------------------------------------------- faults


def test_drop_streams_forces_reconnect(fake_alpaca):
    client = trading(fake_alpaca)
    with trade_updates(fake_alpaca) as received:
        assert fake_alpaca.drop_streams() == 1
        assert fake_alpaca.stream_clients("trading") == 0
        fake_alpaca.wait_trading_listeners(1, timeout=5)  # alpaca-py reconnects after ~1 s
        assert sum(kind == "trading" for _, kind, _ in fake_alpaca.ws_connections) == 2
        order = client.submit_order(
            MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
        )
        fake_alpaca.fill(str(order.id), qty=0.5)
        fake_alpaca.wait_for(lambda: [u.event for u in received] == ["new", "partial_fill"], timeout=5)

        # a fill during an outage: the event is lost, REST has it
        fake_alpaca.set_streams_down(True)
        fake_alpaca.drop_streams()
        with pytest.raises(Exception, match="503"):
            ws_connect(fake_alpaca.trading_ws_url, open_timeout=5)
        fake_alpaca.fill(str(order.id))
        fake_alpaca.set_streams_down(False)
        fake_alpaca.wait_trading_listeners(1, timeout=8)
        assert [u.event for u in received] == ["new", "partial_fill"]
        assert client.get_order_by_id(order.id).status == OrderStatus.FILLED
        assert [e["event"] for e in fake_alpaca.trade_events][-1] == "fill"


def test_hold_and_release_events(fake_alpaca):
    client = trading(fake_alpaca)
    with trade_updates(fake_alpaca) as received:
        order = client.submit_order(
            MarketOrderRequest(symbol="AAPL", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
        )
        fake_alpaca.wait_for(lambda: len(received) == 1, timeout=5)
        fake_alpaca.hold_events()
        fake_alpaca.fill(str(order.id), qty=1, price=10)
        assert quiet_for(0.3, received, 1)
        assert client.get_order_by_id(order.id).status == OrderStatus.PARTIALLY_FILLED  # REST tells the truth
        assert [e["event"] for e in fake_alpaca.held_events] == ["partial_fill"]
        dropped = fake_alpaca.release_events()  # lost, like events during a real outage
        assert [e["event"] for e in dropped] == ["partial_fill"]
        assert quiet_for(0.2, received, 1)

        fake_alpaca.hold_events()
        fake_alpaca.fill(str(order.id), price=11)
        fake_alpaca.release_events(deliver=True)  # or delivered late
        fake_alpaca.wait_for(lambda: len(received) == 2, timeout=5)
    assert received[1].event == "fill" and received[1].position_qty == 2


def test_fail_next(fake_alpaca):
    client = trading(fake_alpaca)
    fake_alpaca.fail_next("GET", r"^/v2/account$", status=503, times=2)
    for _ in range(2):
        with pytest.raises(APIError) as err:
            client.get_account()
        assert err.value.status_code == 503
    assert client.get_account().status.value == "ACTIVE"

    fake_alpaca.fail_next("*", r"/v2/positions", status=0)  # connection dropped, no answer
    with pytest.raises(requests.ConnectionError):
        client.get_all_positions()
    assert client.get_all_positions() == []

    fake_alpaca.fail_next("POST", r"^/v2/orders$", status=500)  # rejected before processing
    fake_alpaca.fail_next("POST", r"^/v2/orders$", status=502, after_processing=True)  # processed, then 502
    request = MarketOrderRequest(
        symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id="ambiguous-1"
    )
    for status in (500, 502):
        with pytest.raises(APIError) as err:
            client.submit_order(request)
        assert err.value.status_code == status
    assert len(fake_alpaca.submit_attempts) == 2
    assert client.get_order_by_client_id("ambiguous-1").status == OrderStatus.NEW
    assert [s for s in (e["status"] for e in fake_alpaca.request_log) if s >= 500] == [503, 503, 500, 502]

    bars = market_data(fake_alpaca)
    fake_alpaca.fail_next("GET", r"^/v2/stocks/bars$", status=500)
    with pytest.raises(APIError):
        bars.get_stock_bars(StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Day))


def test_accept_then_timeout_next_submit(fake_alpaca):
    body = {
        "symbol": "AAPL",
        "qty": "1",
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": "slow-1",
    }
    fake_alpaca.accept_then_timeout_next_submit(delay=1.0)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.post(fake_alpaca.base_url + "/v2/orders", json=body, headers=headers(), timeout=0.3)
    assert time.monotonic() - started < 0.9
    # the order exists although the client never saw an answer; the lookup is served meanwhile
    assert trading(fake_alpaca).get_order_by_client_id("slow-1").status == OrderStatus.NEW
    assert len(fake_alpaca.orders) == 1

    fake_alpaca.accept_then_timeout_next_submit(delay=0.1)  # shorter than the client's patience
    body["client_order_id"] = "slow-2"
    with pytest.raises(requests.ConnectionError):
        requests.post(fake_alpaca.base_url + "/v2/orders", json=body, headers=headers(), timeout=5)
    assert len(fake_alpaca.orders_by_client_id("slow-2")) == 1
    assert len(fake_alpaca.orders) == 2


def test_rate_limit_429(fake_alpaca):
    fake_alpaca.rate_limit_per_minute = 5
    fake_alpaca.rate_limit_window_s = 0.5  # scaled-down window for tests
    session = requests.Session()
    url = fake_alpaca.base_url + "/v2/clock"
    answers = [session.get(url, headers=headers(), timeout=5) for _ in range(7)]
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 2
    assert answers[4].headers["X-Ratelimit-Remaining"] == "0"
    limited = answers[5]
    assert limited.headers["X-Ratelimit-Limit"] == "5" and limited.headers["X-Ratelimit-Remaining"] == "0"
    assert time.time() - 1 <= int(limited.headers["X-Ratelimit-Reset"]) <= time.time() + 2
    assert fake_alpaca.rate_limited_count == 2
    # the data server has its own window
    assert (
        session.get(
            fake_alpaca.data_url + "/v2/stocks/bars/latest", params={"symbols": "AAPL"}, headers=headers(), timeout=5
        ).status_code
        == 200
    )
    time.sleep(0.55)
    assert session.get(url, headers=headers(), timeout=5).status_code == 200


def test_stop_is_clean():
    fake = FakeAlpaca().start()
    port = int(fake.base_url.rsplit(":", 1)[1])
    assert fake.base_url.startswith("http://127.0.0.1:")
    with ws_connect(fake.trading_ws_url):  # an open websocket must not block stop()
        requests.get(fake.base_url + "/v2/clock", headers=headers(), timeout=5)
        fake.accept_then_timeout_next_submit(delay=30)
        threading.Thread(
            target=lambda: _swallow(
                lambda: requests.post(
                    fake.base_url + "/v2/orders",
                    headers=headers(),
                    timeout=30,
                    json={"symbol": "A", "qty": 1, "side": "buy", "type": "market", "time_in_force": "day"},
                )
            ),
            daemon=True,
        ).start()
        fake.wait_for(lambda: fake.submit_attempts)
        started = time.monotonic()
        fake.stop()
        assert time.monotonic() - started < 3
    assert not [t for t in threading.enumerate() if t.name == "fake-alpaca"]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    fake.stop()  # idempotent


def _swallow(fn):
    try:
        fn()
    except Exception:
        pass
