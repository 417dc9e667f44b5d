"""An Alpaca-compatible loopback server for the live-trading tests (issue 6).

``FakeAlpaca`` speaks enough of Alpaca's trading REST API, market-data REST API, trade-updates
websocket and market-data websocket that alpaca-py's own clients work against it unchanged::

    fake = FakeAlpaca().start()
    TradingClient(key, secret, paper=True, url_override=fake.base_url)
    StockHistoricalDataClient(key, secret, url_override=fake.data_url)
    TradingStream(key, secret, url_override=fake.trading_ws_url)
    StockDataStream(key, secret, url_override=fake.data_stream_url)
    ...
    fake.stop()

Everything runs on one asyncio event loop in a background thread and binds 127.0.0.1 on ephemeral
ports: one port serves trading REST *and* the ``/stream`` websocket (as paper-api.alpaca.markets
does), the other serves market-data REST *and* the ``/v2/{feed}`` websocket.  Wire formats follow
alpaca-py 0.44: the trade-updates stream sends JSON in binary frames; the data stream speaks
msgpack when the handshake carries ``Content-Type: application/msgpack`` (alpaca-py always sends
it) and JSON text frames otherwise.

The public methods are thread-safe and meant to be called from the test thread: they mutate the
simulated account under a lock and hand websocket sends to the loop.  The server never logs
request headers or websocket payloads, so a secret canary cannot leak through it.

See docs/live-testing.md for the contract and the fault-injection recipes.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import functools
import http
import json
import logging
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import msgpack
import pandas as pd
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

__all__ = ["FakeAlpaca"]

log = logging.getLogger(__name__)

# A logger that is not attached to the logging tree: websockets' protocol logs frames (including
# the auth frame with the secret) at DEBUG, and a canary test may switch the root logger to DEBUG.
_SILENT_WS_LOGGER = logging.Logger("fake_alpaca.websockets.silent", level=logging.CRITICAL)

ET = ZoneInfo("America/New_York")
UTC = UTC

ORDER_TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
TIME_IN_FORCE = ("day", "gtc", "opg", "cls", "ioc", "fok")
ORDER_CLASSES = ("", "simple", "bracket", "oco", "oto")
CLOSED_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
DATA_CHANNELS = (
    "trades",
    "quotes",
    "bars",
    "updatedBars",
    "dailyBars",
    "statuses",
    "lulds",
    "corrections",
    "cancelErrors",
    "news",  # only on the /v1beta1/news stream (its own connection, as on stream.data.alpaca.markets)
)
BAR_CHANNEL_TYPES = {"bars": "b", "updatedBars": "u", "dailyBars": "d"}
_DROP = object()  # a handler result meaning "close the connection without answering"
_NS = 1_000_000_000


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(dt: datetime | None) -> str | None:
    """RFC 3339 UTC with microseconds, as Alpaca's trading API writes timestamps."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso_ns(ns: int) -> str:
    """RFC 3339 UTC from epoch nanoseconds, as the market-data API writes bar times."""
    sec, frac = divmod(int(ns), _NS)
    text = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def _num(value: float | None) -> str | None:
    """Alpaca sends decimals as strings: "10", "179.08", "0.5"."""
    if value is None:
        return None
    x = float(value)
    if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return format(round(x, 9), ".9f").rstrip("0").rstrip(".")


def _jnum(value: float) -> float | int:
    """JSON number for market data: integral floats become ints (volumes, trade counts)."""
    x = float(value)
    return int(x) if math.isfinite(x) and x == int(x) and abs(x) < 1e15 else x


def _to_ts(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _to_dt(value: Any) -> datetime:
    return _to_ts(value).to_pydatetime()


def _ns(value: Any) -> int:
    return int(_to_ts(value).value)


def _asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fake-alpaca-asset:" + symbol))


class _ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _unprocessable(message: str) -> _ApiError:
    return _ApiError(422, 40010001, message)


class _Resp:
    __slots__ = ("status", "body", "headers")

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, dict(headers or {})


def _error_resp(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> _Resp:
    return _Resp(status, {"code": code, "message": message}, headers)


def _fnum(body: dict, key: str, required: bool = False) -> float | None:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise _unprocessable(f"{key} is required")
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _unprocessable(f"invalid {key}") from None
    if not math.isfinite(x):
        raise _unprocessable(f"invalid {key}")
    return x


_TIMEFRAME_RE = re.compile(r"^(\d+)(Min|T|Hour|H|Day|D|Week|W|Month|M)$")
_TIMEFRAME_UNITS = {
    "Min": "Min",
    "T": "Min",
    "Hour": "Hour",
    "H": "Hour",
    "Day": "Day",
    "D": "Day",
    "Week": "Week",
    "W": "Week",
    "Month": "Month",
    "M": "Month",
}
_UNIT_SECONDS = {"Min": 60, "Hour": 3600, "Day": 86400, "Week": 7 * 86400, "Month": 30 * 86400}


def _parse_timeframe(text: str | None) -> tuple[int, str]:
    m = _TIMEFRAME_RE.match(text or "")
    if not m or int(m.group(1)) < 1:
        raise _ApiError(422, 42210000, f"invalid timeframe: {text!r}")
    return int(m.group(1)), _TIMEFRAME_UNITS[m.group(2)]


def _parse_time_param(query: dict[str, str], key: str) -> int | None:
    raw = query.get(key)
    if not raw:
        return None
    try:
        return _ns(raw)
    except (ValueError, TypeError):
        raise _ApiError(422, 42210000, f"invalid {key}: {raw!r}") from None


def _norm_bar(symbol: str, bar: dict | pd.Series) -> dict:
    """A bar dict in any of the usual spellings -> {t(ns), o, h, l, c, v, n, vw}."""
    src = {str(k).lower(): v for k, v in dict(bar).items()}

    def pick(*names, default=None):
        for name in names:
            if name in src and src[name] is not None:
                return src[name]
        return default

    t = pick("t", "timestamp", "time", "date", "datetime")
    if t is None:
        t = pd.Timestamp.now(tz="UTC").floor("min")
    close = pick("c", "close")
    if close is None:
        raise ValueError(f"bar for {symbol} has no close: {bar!r}")
    close = float(close)
    o = float(pick("o", "open", default=close))
    h = float(pick("h", "high", default=max(o, close)))
    low = float(pick("l", "low", default=min(o, close)))
    v = float(pick("v", "volume", default=0.0))
    n = float(pick("n", "trade_count", "trades", default=0))
    vw = float(pick("vw", "vwap", default=(o + h + low + close) / 4.0))
    return {"t": _ns(t), "o": o, "h": h, "l": low, "c": close, "v": v, "n": n, "vw": vw}


def _bar_json(b: dict) -> dict:
    return {
        "t": _iso_ns(b["t"]),
        "o": b["o"],
        "h": b["h"],
        "l": b["l"],
        "c": b["c"],
        "v": _jnum(b["v"]),
        "n": _jnum(b["n"]),
        "vw": b["vw"],
    }


def _encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _decode_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
    except Exception:
        raise _ApiError(422, 42210000, "invalid page_token") from None


# --------------------------------------------------------------------------------------------
# websocket connection (sans-I/O websockets protocol over asyncio streams)
# --------------------------------------------------------------------------------------------


class _WSConn:
    def __init__(
        self, kind: str, path: str, writer: asyncio.StreamWriter, protocol: ServerProtocol, codec: str
    ) -> None:
        self.kind, self.path, self.writer, self.protocol, self.codec = kind, path, writer, protocol, codec
        self.authed = False
        self.listening = False
        self.subs: dict[str, set[str]] = {ch: set() for ch in DATA_CHANNELS}
        self._frag: tuple[Opcode, list[bytes]] | None = None

    def flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            try:
                if chunk:
                    self.writer.write(chunk)
                elif self.writer.can_write_eof():
                    self.writer.write_eof()
            except (OSError, RuntimeError):
                pass

    def assemble(self, frame) -> tuple[Opcode, bytes] | None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            if frame.fin:
                return frame.opcode, bytes(frame.data)
            self._frag = (frame.opcode, [bytes(frame.data)])
        elif frame.opcode is Opcode.CONT and self._frag is not None:
            self._frag[1].append(bytes(frame.data))
            if frame.fin:
                opcode, parts = self._frag
                self._frag = None
                return opcode, b"".join(parts)
        return None

    def send(self, obj: Any) -> None:
        if self.protocol.state is not State.OPEN:
            return
        try:
            if self.kind == "trading":
                payload = msgpack.packb(obj) if self.codec == "msgpack" else json.dumps(obj).encode()
                self.protocol.send_binary(payload)  # paper-api sends JSON in *binary* frames
            elif self.codec == "msgpack":
                self.protocol.send_binary(msgpack.packb(_times_for_msgpack(obj), datetime=False))
            else:
                self.protocol.send_text(json.dumps(_times_for_json(obj)).encode())
        except Exception:  # the peer went away mid-send
            return
        self.flush()

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.protocol.state is State.OPEN:
            try:
                self.protocol.send_close(code, reason)
            except Exception:
                pass
            self.flush()

    def abort(self) -> None:
        transport = self.writer.transport
        if transport is not None:
            transport.abort()


_TIME_KEYS = ("t", "created_at", "updated_at")


def _is_news(conn: Any) -> bool:
    """Whether a data-port websocket is the news stream (``/v1beta1/news``)."""
    return str(conn.path).rstrip("/").endswith("/news")


def _times_for_msgpack(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_times_for_msgpack(x) for x in obj]
    if isinstance(obj, dict):
        return {
            k: (msgpack.Timestamp.from_unix_nano(v) if k in _TIME_KEYS and isinstance(v, int) else v)
            for k, v in obj.items()
        }
    return obj


def _times_for_json(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_times_for_json(x) for x in obj]
    if isinstance(obj, dict):
        return {k: (_iso_ns(v) if k in _TIME_KEYS and isinstance(v, int) else v) for k, v in obj.items()}
    return obj


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------


class FakeAlpaca:
    """Alpaca-compatible loopback server: trading REST + trade_updates stream, data REST + stream.

    See the module docstring and docs/live-testing.md.
    """

    def __init__(self, key_id: str = "PKTESTKEY", secret_key: str = "SECRETCANARY", cash: float = 100_000.0) -> None:
        self._key_id = key_id
        self._secret_key = secret_key
        self._lock = threading.RLock()
        self._initial_cash = float(cash)
        self._cash = float(cash)
        self._last_equity = float(cash)
        self.account_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "fake-alpaca-account:" + key_id))
        self._account_created = _utcnow()
        # simulated broker state
        self._orders: dict[str, dict] = {}
        self._order_seq: list[str] = []
        self._client_ids: dict[str, list[str]] = {}
        self._positions: dict[str, dict] = {}
        self._prices: dict[str, float] = {}
        self._assets: dict[str, dict] = {}
        self._activities: list[dict] = []
        self._trade_events: list[dict] = []
        self._held = False
        self._held_msgs: list[dict] = []
        self._clock: dict | None = None
        # market data: symbol -> {t_ns: bar}
        self._bars: dict[str, dict[int, dict]] = {}
        self._bar_keys: dict[str, list[int]] = {}
        # observation
        self._requests: list[tuple[float, str, str]] = []
        self._request_log: list[dict] = []
        self._submit_attempts: list[dict] = []
        self._ws_connections: list[tuple[float, str, str]] = []
        # faults
        self._faults: list[dict] = []
        self._submit_timeouts: list[tuple[float, bool]] = []
        self._streams_down = False
        self._rl_windows: dict[str, deque] = {"trading": deque(), "data": deque()}
        # knobs (plain attributes, set them from tests)
        self.auto_fill: bool = False
        self.default_price: float = 100.0
        self.enforce_buying_power: bool = True
        self.rate_limit_per_minute: int | None = None
        self.rate_limit_window_s: float = 60.0
        self.rate_limited_count: int = 0
        self.bars_page_limit: int = 10_000
        self.data_stream_connection_limit: int | None = 1
        self.account_overrides: dict[str, Any] = {}
        # runtime
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.base_events.Server] = []
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ws_conns: set[_WSConn] = set()
        self._routes: dict[str, list] | None = None
        self.base_url = self.trading_ws_url = self.data_url = self.data_stream_url = ""

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeAlpaca:
        if self._thread is not None:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="fake-alpaca", daemon=True)
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._startup(), self._loop)
        tport, dport = fut.result(timeout=10)
        self.base_url = f"http://127.0.0.1:{tport}"
        self.trading_ws_url = f"ws://127.0.0.1:{tport}/stream"
        self.data_url = f"http://127.0.0.1:{dport}"
        self.data_stream_url = f"ws://127.0.0.1:{dport}/v2/iex"
        return self

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
        except Exception:
            log.warning("fake alpaca: unclean shutdown", exc_info=True)
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass
        thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> FakeAlpaca:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run_loop(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _startup(self) -> tuple[int, int]:
        ports = []
        for kind in ("trading", "data"):
            server = await asyncio.start_server(functools.partial(self._handle_conn, kind=kind), "127.0.0.1", 0)
            self._servers.append(server)
            ports.append(server.sockets[0].getsockname()[1])
        return ports[0], ports[1]

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            if writer.transport is not None:
                writer.transport.abort()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=3)
        for server in self._servers:
            try:
                await asyncio.wait_for(server.wait_closed(), timeout=1)
            except Exception:
                pass
        self._servers.clear()

    def _in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def _call_in_loop(self, fn: Callable, *args) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # loop closed between the check and the call
            pass

    def _run_in_loop(self, fn: Callable, *args) -> Any:
        """Run ``fn`` on the loop and wait for it (directly when already on the loop)."""
        if self._in_loop_thread():
            return fn(*args)
        loop = self._loop
        if loop is None or loop.is_closed() or self._thread is None:
            return None

        async def call():
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=5)

    # ---------------------------------------------------------------- inspection (thread-safe)

    @property
    def orders(self) -> dict[str, dict]:
        """order id -> order JSON as Alpaca returns it (a snapshot; bracket legs also appear)."""
        with self._lock:
            return {oid: self._render(self._orders[oid]) for oid in self._order_seq}

    @property
    def submit_attempts(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._submit_attempts)

    @property
    def requests(self) -> list[tuple[float, str, str]]:
        with self._lock:
            return list(self._requests)

    @property
    def request_log(self) -> list[dict]:
        """Every REST request: time, server ("trading"/"data"), method, path, query, status."""
        with self._lock:
            return copy.deepcopy(self._request_log)

    @property
    def trade_events(self) -> list[dict]:
        """The ``data`` of every trade_updates event emitted (held or not), oldest first."""
        with self._lock:
            return copy.deepcopy(self._trade_events)

    @property
    def held_events(self) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(m["data"]) for m in self._held_msgs]

    @property
    def ws_connections(self) -> list[tuple[float, str, str]]:
        """(monotonic time, "trading"|"data", path) of every accepted websocket handshake."""
        with self._lock:
            return list(self._ws_connections)

    @property
    def activities(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._activities)

    @property
    def cash(self) -> float:
        with self._lock:
            return self._cash

    @property
    def equity(self) -> float:
        with self._lock:
            return self._equity()

    def orders_by_client_id(self, client_order_id: str) -> list[dict]:
        with self._lock:
            return [self._render(self._orders[oid]) for oid in self._client_ids.get(client_order_id, [])]

    def positions(self) -> dict[str, float]:
        with self._lock:
            return {sym: p["qty"] for sym, p in self._positions.items() if p["qty"] != 0}

    def stream_clients(self, kind: str = "trading") -> int:
        """Authorized clients ready to receive: trading ones listening to trade_updates, or
        authenticated data ones."""
        with self._lock:
            if kind == "trading":
                return sum(1 for c in self._ws_conns if c.kind == "trading" and c.authed and c.listening)
            news = kind == "news"
            return sum(1 for c in self._ws_conns if c.kind == "data" and c.authed and _is_news(c) == news)

    def data_subscriptions(self, channel: str = "bars") -> set[str]:
        with self._lock:
            out: set[str] = set()
            for c in self._ws_conns:
                if c.kind == "data" and c.authed:
                    out |= c.subs[channel]
            return out

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01) -> Any:
        """Poll ``predicate`` until it is truthy; return its value or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)

    def wait_trading_listeners(self, n: int = 1, timeout: float = 10.0) -> None:
        self.wait_for(lambda: self.stream_clients("trading") >= n, timeout)

    def wait_data_subscribed(self, symbols: list[str] | str, channel: str = "bars", timeout: float = 10.0) -> None:
        wanted = {symbols} if isinstance(symbols, str) else set(symbols)
        self.wait_for(
            lambda: wanted <= self.data_subscriptions(channel) or "*" in self.data_subscriptions(channel), timeout
        )

    # ---------------------------------------------------------------- account set-up

    def set_cash(self, cash: float) -> None:
        with self._lock:
            self._cash = float(cash)

    def set_position(self, symbol: str, qty: float, avg_entry_price: float | None = None) -> None:
        """Place a position as if it were opened outside the code under test (cash untouched)."""
        with self._lock:
            if qty == 0:
                self._positions.pop(symbol, None)
                return
            avg = float(avg_entry_price if avg_entry_price is not None else self._price(symbol))
            self._positions[symbol] = {"qty": float(qty), "avg": avg}
            self._prices.setdefault(symbol, avg)

    def set_price(self, symbol: str, price: float) -> None:
        with self._lock:
            self._prices[symbol] = float(price)

    def set_asset(self, symbol: str, exists: bool = True, **fields: Any) -> None:
        """Override asset fields, e.g. ``set_asset("XYZ", fractionable=False, tradable=False)``;
        ``exists=False`` makes the symbol unknown (404 on /v2/assets/X, 422 on submit).
        Every other symbol exists, is tradable and fractionable."""
        with self._lock:
            entry = self._assets.setdefault(symbol, {})
            entry.update(fields)
            entry["_missing"] = not exists

    def set_clock(self, is_open: bool, timestamp: Any = None, next_open: Any = None, next_close: Any = None) -> None:
        """Fix /v2/clock.  ``timestamp=None`` keeps the clock's time live (wall clock).

        Defaults: open -> next_close = now + 1 h, next_open = now + 1 day; closed -> next_open =
        now + 1 h, next_close = next_open + 6.5 h.  Opening a closed market turns "accepted"
        orders into "new" ones (and fills market orders when ``auto_fill``).
        """
        with self._lock:
            was_open = self._market_open()
            self._clock = {
                "is_open": bool(is_open),
                "timestamp": None if timestamp is None else _to_dt(timestamp),
                "next_open": None if next_open is None else _to_dt(next_open),
                "next_close": None if next_close is None else _to_dt(next_close),
            }
            if is_open and not was_open:
                for oid in list(self._order_seq):
                    o = self._orders[oid]
                    if o["status"] == "accepted":
                        o["status"] = "new"
                        o["updated_at"] = _utcnow()
                        self._emit_locked(o, "new")
                        self._auto_fill_locked(o)

    # ---------------------------------------------------------------- market simulation

    def add_bars(self, symbol: str, bars: pd.DataFrame) -> None:
        """Add OHLCV history (columns open/high/low/close/volume in any case, or o/h/l/c/v;
        optional trade_count/vwap; DatetimeIndex tz-aware or naive UTC, or a timestamp column)."""
        df = bars.copy()
        df.columns = [str(c).lower() for c in df.columns]
        if not isinstance(df.index, pd.DatetimeIndex):
            for name in ("timestamp", "t", "datetime", "date", "time"):
                if name in df.columns:
                    df = df.set_index(name)
                    break
        idx = pd.DatetimeIndex(df.index)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        records = df.to_dict("records")
        new = {}
        for ts, rec in zip(idx, records):
            rec = {k: v for k, v in rec.items() if not (isinstance(v, float) and math.isnan(v))}
            rec["t"] = ts
            b = _norm_bar(symbol, rec)
            new[b["t"]] = b
        with self._lock:
            store = self._bars.setdefault(symbol, {})
            store.update(new)
            self._bar_keys[symbol] = sorted(store)
            if self._bar_keys[symbol]:
                self._prices[symbol] = store[self._bar_keys[symbol][-1]]["c"]

    def push_bar(self, symbol: str, bar: dict, channel: str = "bars") -> dict:
        """Stream a bar to data-stream subscribers of ``channel`` ("bars", "updatedBars",
        "dailyBars") AND add it to REST history.  With ``auto_fill`` resting limit/stop orders
        are matched against the bar first.  Returns the message as sent (JSON form)."""
        if channel not in BAR_CHANNEL_TYPES:
            raise ValueError(f"unknown bar channel {channel!r}")
        b = _norm_bar(symbol, bar)
        with self._lock:
            store = self._bars.setdefault(symbol, {})
            store[b["t"]] = b
            self._bar_keys[symbol] = sorted(store)
            if self._bar_keys[symbol][-1] == b["t"]:
                self._prices[symbol] = b["c"]
            if self.auto_fill and self._market_open():
                self._match_resting_locked(symbol, b)
        msg = {"T": BAR_CHANNEL_TYPES[channel], "S": symbol, **b}
        self._call_in_loop(self._broadcast_data, channel, symbol, msg)
        return _times_for_json(msg)

    def push_trade(self, symbol: str, price: float, size: float = 100, timestamp: Any = None) -> dict:
        """Stream a 't' trade message; updates the last price (and matches resting orders)."""
        t = _ns(timestamp if timestamp is not None else pd.Timestamp.now(tz="UTC"))
        msg = {
            "T": "t",
            "S": symbol,
            "i": int(t % 1_000_000_007),
            "x": "V",
            "p": float(price),
            "s": _jnum(size),
            "c": ["@"],
            "z": "C",
            "t": t,
        }
        with self._lock:
            self._prices[symbol] = float(price)
            if self.auto_fill and self._market_open():
                p = float(price)
                self._match_resting_locked(symbol, {"t": t, "o": p, "h": p, "l": p, "c": p})
        self._call_in_loop(self._broadcast_data, "trades", symbol, msg)
        return _times_for_json(msg)

    # ---------------------------------------------------------------- broker actions

    def fill(self, order_id: str, qty: float | None = None, price: float | None = None) -> dict:
        """Fill ``qty`` (default: all that remains) of an open order at ``price`` (default: the
        limit price for limit orders, else the stop price for stops, else the last price).
        Emits partial_fill or fill with a fresh execution_id, updates position and cash and
        returns the event's data."""
        with self._lock:
            o = self._get_order(order_id)
            if o["status"] in CLOSED_STATUSES:
                raise ValueError(f"order {order_id} is {o['status']}, it cannot be filled")
            if price is None:
                if o["type"] in ("limit", "stop_limit") and o["limit_price"] is not None:
                    price = o["limit_price"]
                elif o["type"] == "stop" and o["stop_price"] is not None:
                    price = o["stop_price"]
                else:
                    price = self._price(o["symbol"])
            price = float(price)
            total = self._total_qty(o, price)
            remaining = round(total - o["filled_qty"], 9)
            q = remaining if qty is None else float(qty)
            if q <= 0 or q > remaining + 1e-9:
                raise ValueError(f"cannot fill {q} of order {order_id}: {remaining} remains")
            return self._fill_locked(o, q, price)

    def cancel(self, order_id: str) -> dict:
        """Broker-side cancel (e.g. end of day, risk desk): emits "canceled"."""
        with self._lock:
            o = self._get_order(order_id)
            if o["status"] in CLOSED_STATUSES:
                raise ValueError(f"order {order_id} is already {o['status']}")
            return self._cancel_locked(o)

    def reject(self, order_id: str, reason: str = "rejected by broker") -> dict:
        with self._lock:
            o = self._get_order(order_id)
            if o["status"] in CLOSED_STATUSES:
                raise ValueError(f"order {order_id} is already {o['status']}")
            now = _utcnow()
            o.update(status="rejected", failed_at=now, updated_at=now)
            event = self._emit_locked(o, "rejected", reason=reason)
            self._close_legs_locked(o)
            return event

    def expire(self, order_id: str) -> dict:
        with self._lock:
            o = self._get_order(order_id)
            if o["status"] in CLOSED_STATUSES:
                raise ValueError(f"order {order_id} is already {o['status']}")
            now = _utcnow()
            o.update(status="expired", expired_at=now, updated_at=now)
            event = self._emit_locked(o, "expired")
            self._close_legs_locked(o)
            return event

    # ---------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int = 500,
        times: int = 1,
        *,
        after_processing: bool = False,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``times`` requests whose method matches (``"*"`` = any) and whose path
        matches ``path_regex`` (re.search on the path without query) get ``status``.

        ``status=0`` drops the connection without answering.  ``after_processing=True`` runs the
        request first (an order IS created) and then answers with the fault - the ambiguous
        "5xx on submit" case.
        """
        with self._lock:
            self._faults.append(
                {
                    "method": method.upper(),
                    "regex": re.compile(path_regex),
                    "status": int(status),
                    "remaining": int(times),
                    "after": bool(after_processing),
                    "body": body,
                    "headers": dict(headers or {}),
                }
            )

    def accept_then_timeout_next_submit(self, delay: float = 3.0, drop: bool = True) -> None:
        """The next POST /v2/orders is processed (the order exists, its events are emitted) but
        the answer is held back ``delay`` seconds, after which the connection is dropped
        (``drop=True``) or the late response is sent."""
        with self._lock:
            self._submit_timeouts.append((float(delay), bool(drop)))

    def drop_streams(self, trading: bool = True, data: bool = True) -> int:
        """Abort the TCP connections of the websockets (no close frame, like a network failure).
        Returns how many were dropped.  Clients must reconnect."""

        def drop() -> int:
            n = 0
            with self._lock:
                conns = [c for c in self._ws_conns if (c.kind == "trading" and trading) or (c.kind == "data" and data)]
                for c in conns:
                    self._ws_conns.discard(c)
            for c in conns:
                c.abort()
                n += 1
            return n

        return self._run_in_loop(drop) or 0

    def set_streams_down(self, down: bool = True) -> None:
        """While down, websocket handshakes are refused with HTTP 503 (REST keeps working)."""
        with self._lock:
            self._streams_down = bool(down)

    def hold_events(self) -> None:
        """Stop sending trade_updates (as if the socket were down); REST still shows the truth."""
        with self._lock:
            self._held = True

    def release_events(self, deliver: bool = False) -> list[dict]:
        """Resume sending.  Events emitted while held are dropped, as Alpaca does not replay
        them after a reconnect - unless ``deliver=True`` sends them late, in order.  Returns
        the held events' data."""
        with self._lock:
            self._held = False
            msgs, self._held_msgs = self._held_msgs, []
        if deliver:
            for msg in msgs:
                self._call_in_loop(self._broadcast_trading, msg)
        return [copy.deepcopy(m["data"]) for m in msgs]

    def send_raw_trade_update(self, event: dict) -> None:
        """Send an arbitrary trade_updates message to listening clients (replays, out-of-order
        events).  ``event`` is either the event data (wrapped as
        ``{"stream": "trade_updates", "data": event}``) or a whole message with "stream".
        Not affected by ``hold_events``."""
        msg = copy.deepcopy(event) if "stream" in event else {"stream": "trade_updates", "data": copy.deepcopy(event)}
        self._call_in_loop(self._broadcast_trading, msg)

    # ---------------------------------------------------------------- internal: state

    def _market_open(self) -> bool:
        return True if self._clock is None else self._clock["is_open"]

    def _price(self, symbol: str) -> float:
        return self._prices.get(symbol, self.default_price)

    def _equity(self) -> float:
        return self._cash + sum(p["qty"] * self._price(s) for s, p in self._positions.items())

    def _get_order(self, order_id: str) -> dict:
        o = self._orders.get(str(order_id))
        if o is None:
            raise KeyError(f"no order {order_id}")
        return o

    def _asset(self, symbol: str) -> dict:
        asset = {
            "id": _asset_id(symbol),
            "class": "us_equity",
            "exchange": "NASDAQ",
            "symbol": symbol,
            "name": f"{symbol} Common Stock",
            "status": "active",
            "tradable": True,
            "marginable": True,
            "maintenance_margin_requirement": 30,
            "margin_requirement_long": "30",
            "margin_requirement_short": "100",
            "shortable": True,
            "easy_to_borrow": True,
            "fractionable": True,
            "attributes": [],
        }
        asset.update({k: v for k, v in self._assets.get(symbol, {}).items() if not k.startswith("_")})
        return asset

    def _asset_exists(self, symbol: str) -> bool:
        return not self._assets.get(symbol, {}).get("_missing", False)

    def _total_qty(self, o: dict, price: float) -> float:
        if o["qty"] is not None:
            return o["qty"]
        if o.get("_notional_qty") is None:  # notional orders size themselves at the first fill
            o["_notional_qty"] = round(o["notional"] / price, 9)
        return o["_notional_qty"]

    def _buying_power(self) -> float:
        reserved = 0.0
        for o in self._orders.values():
            if o["side"] == "buy" and o["status"] not in CLOSED_STATUSES and o.get("_parent") is None:
                est = o["limit_price"] or o["stop_price"] or self._price(o["symbol"])
                if o["qty"] is not None:
                    reserved += (o["qty"] - o["filled_qty"]) * est
                elif not o["filled_qty"]:
                    reserved += o["notional"] or 0.0
        return max(0.0, self._cash - reserved)

    def _render(self, o: dict, legs: bool = True) -> dict:
        out = {
            "id": o["id"],
            "client_order_id": o["client_order_id"],
            "created_at": _iso(o["created_at"]),
            "updated_at": _iso(o["updated_at"]),
            "submitted_at": _iso(o["submitted_at"]),
            "filled_at": _iso(o["filled_at"]),
            "expired_at": _iso(o["expired_at"]),
            "canceled_at": _iso(o["canceled_at"]),
            "failed_at": _iso(o["failed_at"]),
            "replaced_at": _iso(o["replaced_at"]),
            "replaced_by": o["replaced_by"],
            "replaces": o["replaces"],
            "asset_id": o["asset_id"],
            "symbol": o["symbol"],
            "asset_class": "us_equity",
            "notional": _num(o["notional"]),
            "qty": _num(o["qty"]),
            "filled_qty": _num(o["filled_qty"]),
            "filled_avg_price": _num(o["filled_avg_price"]),
            "order_class": o["order_class"],
            "order_type": o["type"],
            "type": o["type"],
            "side": o["side"],
            "position_intent": o["position_intent"],
            "time_in_force": o["time_in_force"],
            "limit_price": _num(o["limit_price"]),
            "stop_price": _num(o["stop_price"]),
            "status": o["status"],
            "extended_hours": o["extended_hours"],
            "legs": None,
            "trail_percent": _num(o["trail_percent"]),
            "trail_price": _num(o["trail_price"]),
            "hwm": _num(o["hwm"]),
            "subtag": None,
            "source": None,
            "expires_at": None,
        }
        if legs and o.get("_legs"):
            out["legs"] = [self._render(self._orders[lid], legs=False) for lid in o["_legs"]]
        return out

    def _emit_locked(self, o: dict, event: str, **extra: Any) -> dict:
        data = {
            "event": event,
            "execution_id": str(uuid.uuid4()),
            "order": self._render(o),
            "timestamp": _iso(_utcnow()),
        }
        data.update(extra)
        msg = {"stream": "trade_updates", "data": data}
        self._trade_events.append(copy.deepcopy(data))
        if self._held:
            self._held_msgs.append(msg)
        else:
            self._call_in_loop(self._broadcast_trading, msg)
        return copy.deepcopy(data)

    def _apply_position_locked(self, symbol: str, signed_qty: float, price: float) -> float:
        p = self._positions.get(symbol, {"qty": 0.0, "avg": 0.0})
        old = p["qty"]
        new = round(old + signed_qty, 9)
        if new == 0:
            avg = 0.0
        elif old == 0 or (old > 0) == (signed_qty > 0):
            avg = (abs(old) * p["avg"] + abs(signed_qty) * price) / abs(new)
        elif (old > 0) != (new > 0):
            avg = price  # crossed through flat: the remainder opened at this price
        else:
            avg = p["avg"]
        if new == 0:
            self._positions.pop(symbol, None)
        else:
            self._positions[symbol] = {"qty": new, "avg": avg}
        self._cash = round(self._cash - signed_qty * price, 6)
        self._prices[symbol] = price
        return new

    def _fill_locked(self, o: dict, q: float, price: float) -> dict:
        now = _utcnow()
        total = self._total_qty(o, price)
        prev = o["filled_qty"]
        cum = round(prev + q, 9)
        o["filled_avg_price"] = ((o["filled_avg_price"] or 0.0) * prev + price * q) / cum
        o["filled_qty"] = cum
        done = cum >= total - 1e-9
        o["status"] = "filled" if done else "partially_filled"
        o["updated_at"] = now
        if done:
            o["filled_at"] = now
        signed = q if o["side"] == "buy" else -q
        position_qty = self._apply_position_locked(o["symbol"], signed, price)
        event = "fill" if done else "partial_fill"
        self._activities.append(
            {
                "id": now.strftime("%Y%m%d%H%M%S%f")[:17] + "::" + str(uuid.uuid4()),
                "activity_type": "FILL",
                "transaction_time": _iso(now),
                "type": event,
                "price": _num(price),
                "qty": _num(q),
                "side": o["side"],
                "symbol": o["symbol"],
                "leaves_qty": _num(max(0.0, round(total - cum, 9))),
                "order_id": o["id"],
                "cum_qty": _num(cum),
                "order_status": o["status"],
            }
        )
        data = self._emit_locked(o, event, price=_num(price), qty=_num(q), position_qty=_num(position_qty))
        if done:
            for lid in o.get("_legs") or []:  # bracket / oto: the exit legs go live
                leg = self._orders[lid]
                if not leg["_active"] and leg["status"] == "held":
                    leg["_active"] = True
                    if leg["type"] == "limit":
                        leg["status"] = "new"
                        leg["updated_at"] = now
                        self._emit_locked(leg, "new")
            for sid in o.get("_oco") or []:  # one-cancels-other
                sib = self._orders[sid]
                if sib["status"] not in CLOSED_STATUSES:
                    self._cancel_locked(sib)
        return data

    def _cancel_locked(self, o: dict) -> dict:
        now = _utcnow()
        o.update(status="canceled", canceled_at=now, updated_at=now)
        event = self._emit_locked(o, "canceled")
        self._close_legs_locked(o)
        return event

    def _close_legs_locked(self, o: dict) -> None:
        for lid in o.get("_legs") or []:
            leg = self._orders[lid]
            if leg["status"] not in CLOSED_STATUSES and not leg["_active"]:
                self._cancel_locked(leg)

    def _trigger_price(self, o: dict, bar: dict) -> float | None:
        op, hi, lo = bar["o"], bar["h"], bar["l"]
        lp, sp, buy = o["limit_price"], o["stop_price"], o["side"] == "buy"
        kind = o["type"]
        if kind == "market":
            return op
        if kind == "limit":
            if buy:
                return min(op, lp) if lo <= lp else None
            return max(op, lp) if hi >= lp else None
        if kind == "stop":
            if buy:
                return max(op, sp) if hi >= sp else None
            return min(op, sp) if lo <= sp else None
        if kind == "stop_limit":
            if buy:
                return min(max(op, sp), lp) if hi >= sp and lo <= lp else None
            return max(min(op, sp), lp) if lo <= sp and hi >= lp else None
        return None

    def _fillable(self, o: dict) -> bool:
        if o["status"] in CLOSED_STATUSES or o["status"] == "accepted":
            return False
        return o["_active"]

    def _match_resting_locked(self, symbol: str, bar: dict) -> None:
        for oid in list(self._order_seq):
            o = self._orders[oid]
            if o["symbol"] != symbol or not self._fillable(o):
                continue
            price = self._trigger_price(o, bar)
            if price is None:
                continue
            remaining = round(self._total_qty(o, price) - o["filled_qty"], 9)
            if remaining > 0:
                self._fill_locked(o, remaining, price)

    def _auto_fill_locked(self, o: dict) -> None:
        if not self.auto_fill or not self._market_open() or not self._fillable(o):
            return
        last = self._price(o["symbol"])
        price = self._trigger_price(o, {"o": last, "h": last, "l": last, "c": last})
        if price is not None:
            self._fill_locked(o, round(self._total_qty(o, price) - o["filled_qty"], 9), price)

    # ---------------------------------------------------------------- internal: HTTP

    async def _handle_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, kind: str) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                try:
                    request_line, *header_lines = head.decode("latin-1").split("\r\n")
                    method, target, version = request_line.split(" ", 2)
                except ValueError:
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                headers: dict[str, str] = {}
                for line in header_lines:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                if headers.get("upgrade", "").lower() == "websocket":
                    await self._ws_session(kind, reader, writer, head, target, headers)
                    return
                body = b""
                length = int(headers.get("content-length") or 0)
                if length:
                    body = await reader.readexactly(length)
                elif "chunked" in headers.get("transfer-encoding", "").lower():
                    body = await self._read_chunked(reader)
                keep_alive = headers.get("connection", "").lower() != "close" and version != "HTTP/1.0"
                resp = await self._dispatch(kind, method.upper(), target, headers, body)
                if resp is _DROP:
                    if writer.transport is not None:
                        writer.transport.abort()
                    return
                writer.write(self._encode_response(resp, keep_alive))
                await writer.drain()
                if not keep_alive:
                    return
        except asyncio.CancelledError:
            # Shutdown.  Ending normally (not cancelled) keeps Python 3.11's StreamReaderProtocol
            # from logging "Exception in callback ... CancelledError" for every open connection.
            return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except Exception:
            log.exception("fake alpaca: connection handler failed")
        finally:
            self._writers.discard(writer)
            try:
                writer.close()
            except Exception:
                pass
            self._tasks.discard(task)

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    @staticmethod
    def _encode_response(resp: _Resp, keep_alive: bool) -> bytes:
        try:
            reason = http.HTTPStatus(resp.status).phrase
        except ValueError:
            reason = "Unknown"
        body = b"" if resp.body is None or resp.status == 204 else json.dumps(resp.body).encode()
        lines = [
            f"HTTP/1.1 {resp.status} {reason}",
            f"Date: {formatdate(usegmt=True)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
        ]
        if resp.status != 204:
            lines.append("Content-Type: application/json; charset=UTF-8")
            lines.append(f"Content-Length: {len(body)}")
        lines.extend(f"{k}: {v}" for k, v in resp.headers.items())
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def _authorized(self, headers: dict[str, str]) -> bool:
        key, secret = headers.get("apca-api-key-id"), headers.get("apca-api-secret-key")
        auth = headers.get("authorization", "")
        if key is None and auth.lower().startswith("basic "):
            try:
                key, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                return False
        return key == self._key_id and secret == self._secret_key

    def _rate_check(self, kind: str) -> tuple[dict[str, str], bool]:
        """Sliding window: at most ``rate_limit_per_minute`` requests in any
        ``rate_limit_window_s`` seconds, per server (trading and data count separately)."""
        limit = self.rate_limit_per_minute
        nominal = limit if limit is not None else 200
        window = float(self.rate_limit_window_s)
        now_m, now_e = time.monotonic(), time.time()
        with self._lock:
            q = self._rl_windows[kind]
            while q and q[0] <= now_m - window:
                q.popleft()
            if limit is not None and len(q) >= limit:
                self.rate_limited_count += 1
                wait = max(0.0, q[0] + window - now_m)
                reset = math.ceil(now_e + wait)
                return (
                    {
                        "X-Ratelimit-Limit": str(limit),
                        "X-Ratelimit-Remaining": "0",
                        "X-Ratelimit-Reset": str(reset),
                        "Retry-After": str(max(1, math.ceil(wait))),
                    },
                    True,
                )
            q.append(now_m)
            reset = math.ceil(now_e + max(0.0, q[0] + window - now_m))
            return (
                {
                    "X-Ratelimit-Limit": str(nominal),
                    "X-Ratelimit-Remaining": str(max(0, nominal - len(q))),
                    "X-Ratelimit-Reset": str(reset),
                },
                False,
            )

    def _take_fault(self, method: str, path: str) -> dict | None:
        with self._lock:
            for fault in self._faults:
                if fault["method"] in ("*", method) and fault["regex"].search(path):
                    fault["remaining"] -= 1
                    if fault["remaining"] <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    @staticmethod
    def _fault_resp(fault: dict) -> Any:
        status = fault["status"]
        if status == 0:
            return _DROP
        body = fault["body"]
        if body is None:
            try:
                phrase = http.HTTPStatus(status).phrase.lower()
            except ValueError:
                phrase = "error"
            body = {"code": status * 100000 + 10000, "message": f"{phrase} (injected fault)"}
        return _Resp(status, body, fault["headers"])

    async def _dispatch(self, kind: str, method: str, target: str, headers: dict[str, str], body: bytes) -> Any:
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        entry = {
            "time": time.monotonic(),
            "server": kind,
            "method": method,
            "path": path,
            "query": query,
            "status": None,
        }
        with self._lock:
            self._requests.append((entry["time"], method, path))
            self._request_log.append(entry)
            if kind == "trading" and method == "POST" and path.rstrip("/") == "/v2/orders":
                try:
                    self._submit_attempts.append(json.loads(body or b"null"))
                except ValueError:
                    self._submit_attempts.append({"_raw": body.decode("utf-8", "replace")})
        resp = await self._dispatch_inner(kind, method, path, query, headers, body)
        with self._lock:
            entry["status"] = 0 if resp is _DROP else resp.status
        return resp

    async def _dispatch_inner(self, kind, method, path, query, headers, body) -> Any:
        if not self._authorized(headers):
            return _error_resp(401, 40110000, "request is not authorized")
        rl_headers, limited = self._rate_check(kind)
        if limited:
            return _error_resp(429, 42910000, "rate limit exceeded", rl_headers)
        fault = self._take_fault(method, path)
        if fault is not None and not fault["after"]:
            return self._fault_resp(fault)
        try:
            resp = await self._route(kind, method, path, query, body)
        except _ApiError as e:
            resp = _error_resp(e.status, e.code, e.message)
        except Exception:
            log.exception("fake alpaca: handler for %s %s failed", method, path)
            resp = _error_resp(500, 50010000, "internal server error")
        if fault is not None:
            return self._fault_resp(fault)
        if resp is not _DROP:
            resp.headers.update(rl_headers)
        return resp

    async def _route(self, kind: str, method: str, path: str, query: dict[str, str], body: bytes) -> Any:
        if self._routes is None:
            from tests.live import fake_alpaca_data  # quotes, trades, news, option chains (issue 15)

            self._routes = {
                "trading": self._trading_routes() + fake_alpaca_data.trading_routes(self),
                "data": self._data_routes() + fake_alpaca_data.data_routes(self),
            }
        for route_method, pattern, handler in self._routes[kind]:
            if route_method != method:
                continue
            m = pattern.fullmatch(path)
            if m:
                result = handler(query, body, *m.groups())
                if asyncio.iscoroutine(result):
                    result = await result
                return result
        raise _ApiError(404, 40410000, "endpoint not found")

    def _trading_routes(self):
        r = re.compile
        return [
            ("GET", r(r"/v2/account"), self._h_account),
            ("GET", r(r"/v2/account/configurations"), self._h_account_config),
            ("PATCH", r(r"/v2/account/configurations"), self._h_account_config),
            ("GET", r(r"/v2/account/activities"), self._h_activities),
            ("GET", r(r"/v2/account/activities/([A-Z_]+)"), self._h_activities),
            ("GET", r(r"/v2/clock"), self._h_clock),
            ("GET", r(r"/v2/calendar"), self._h_calendar),
            ("GET", r(r"/v2/assets"), self._h_assets),
            ("GET", r(r"/v2/assets/([^/]+)"), self._h_asset),
            ("POST", r(r"/v2/orders/?"), self._h_submit),
            ("GET", r(r"/v2/orders/?"), self._h_list_orders),
            ("DELETE", r(r"/v2/orders/?"), self._h_cancel_all),
            ("GET", r(r"/v2/orders:by_client_order_id"), self._h_order_by_client_id),
            ("GET", r(r"/v2/orders/([^/]+)"), self._h_get_order),
            ("PATCH", r(r"/v2/orders/([^/]+)"), self._h_replace_order),
            ("DELETE", r(r"/v2/orders/([^/]+)"), self._h_cancel_order),
            ("GET", r(r"/v2/positions/?"), self._h_positions),
            ("DELETE", r(r"/v2/positions/?"), self._h_close_all),
            ("GET", r(r"/v2/positions/([^/]+)"), self._h_position),
            ("DELETE", r(r"/v2/positions/([^/]+)"), self._h_close_position),
        ]

    def _data_routes(self):
        r = re.compile
        return [
            ("GET", r(r"/v2/stocks/bars"), self._h_bars),
            ("GET", r(r"/v2/stocks/bars/latest"), self._h_latest_bars),
            ("GET", r(r"/v2/stocks/trades/latest"), self._h_latest_trades),
            ("GET", r(r"/v2/stocks/quotes/latest"), self._h_latest_quotes),
            ("GET", r(r"/v2/stocks/snapshots"), self._h_snapshots),
            ("GET", r(r"/v2/stocks/([^/]+)/bars"), self._h_symbol_bars),
            ("GET", r(r"/v2/stocks/([^/]+)/bars/latest"), self._h_symbol_latest_bar),
            ("GET", r(r"/v2/stocks/([^/]+)/trades/latest"), self._h_symbol_latest_trade),
            ("GET", r(r"/v2/stocks/([^/]+)/quotes/latest"), self._h_symbol_latest_quote),
            ("GET", r(r"/v2/stocks/([^/]+)/snapshot"), self._h_symbol_snapshot),
        ]

    # ---------------------------------------------------------------- trading handlers

    def _h_account(self, query, body):
        with self._lock:
            equity = self._equity()
            long_mv = sum(p["qty"] * self._price(s) for s, p in self._positions.items() if p["qty"] > 0)
            short_mv = sum(p["qty"] * self._price(s) for s, p in self._positions.items() if p["qty"] < 0)
            bp = self._buying_power()
            acct = {
                "id": self.account_id,
                "account_number": "PA" + self.account_id[:10].upper().replace("-", ""),
                "status": "ACTIVE",
                "crypto_status": "ACTIVE",
                "currency": "USD",
                "buying_power": _num(bp),
                "regt_buying_power": _num(bp),
                "daytrading_buying_power": "0",
                "effective_buying_power": _num(bp),
                "non_marginable_buying_power": _num(bp),
                "options_buying_power": _num(bp),
                "bod_dtbp": "0",
                "cash": _num(self._cash),
                "accrued_fees": "0",
                "pending_transfer_in": "0",
                "portfolio_value": _num(equity),
                "pattern_day_trader": False,
                "trading_blocked": False,
                "transfers_blocked": False,
                "account_blocked": False,
                "created_at": _iso(self._account_created),
                "trade_suspended_by_user": False,
                "multiplier": "1",
                "shorting_enabled": True,
                "equity": _num(equity),
                "last_equity": _num(self._last_equity),
                "long_market_value": _num(long_mv),
                "short_market_value": _num(short_mv),
                "position_market_value": _num(long_mv - short_mv),
                "initial_margin": "0",
                "maintenance_margin": "0",
                "last_maintenance_margin": "0",
                "sma": "0",
                "daytrade_count": 0,
                "balance_asof": date.today().isoformat(),
                "crypto_tier": 0,
                "options_approved_level": 0,
                "options_trading_level": 0,
                "intraday_adjustments": "0",
                "pending_reg_taf_fees": "0",
            }
            acct.update(copy.deepcopy(self.account_overrides))
        return _Resp(200, acct)

    def _h_account_config(self, query, body):
        cfg = {
            "dtbp_check": "entry",
            "fractional_trading": True,
            "max_margin_multiplier": "1",
            "no_shorting": False,
            "pdt_check": "entry",
            "suspend_trade": False,
            "trade_confirm_email": "all",
            "ptp_no_exception_entry": False,
            "max_options_trading_level": 0,
        }
        if body:
            try:
                cfg.update(json.loads(body))
            except ValueError:
                pass
        return _Resp(200, cfg)

    def _h_activities(self, query, body, activity_type=None):
        types = (
            {activity_type}
            if activity_type
            else {t.strip().upper() for t in query.get("activity_types", "").split(",") if t.strip()}
        )
        if types and "FILL" not in types:
            return _Resp(200, [])
        after, until = _parse_time_param(query, "after"), _parse_time_param(query, "until")
        day = query.get("date")
        with self._lock:
            items = copy.deepcopy(self._activities)
        sel = []
        for a in items:
            t = _ns(a["transaction_time"])
            if after is not None and t <= after:
                continue
            if until is not None and t >= until:
                continue
            if day and pd.Timestamp(t, tz="UTC").tz_convert(ET).date().isoformat() != day[:10]:
                continue
            sel.append(a)
        if query.get("direction", "desc") != "asc":
            sel.reverse()
        token = query.get("page_token")
        if token:
            ids = [a["id"] for a in sel]
            sel = sel[ids.index(token) + 1 :] if token in ids else []
        size = min(max(int(query.get("page_size") or 100), 1), 100)
        return _Resp(200, sel[:size])

    def _clock_values(self) -> dict:
        with self._lock:
            c = dict(self._clock) if self._clock else None
        now = (c and c["timestamp"]) or _utcnow()
        is_open = True if c is None else c["is_open"]
        if is_open:
            next_close = (c and c["next_close"]) or now + timedelta(hours=1)
            next_open = (c and c["next_open"]) or now + timedelta(days=1)
        else:
            next_open = (c and c["next_open"]) or now + timedelta(hours=1)
            next_close = (c and c["next_close"]) or next_open + timedelta(hours=6, minutes=30)
        return {"timestamp": now, "is_open": is_open, "next_open": next_open, "next_close": next_close}

    def _h_clock(self, query, body):
        c = self._clock_values()

        def et(dt: datetime) -> str:
            return dt.astimezone(ET).isoformat(timespec="microseconds")

        return _Resp(
            200,
            {
                "timestamp": et(c["timestamp"]),
                "is_open": c["is_open"],
                "next_open": et(c["next_open"]),
                "next_close": et(c["next_close"]),
            },
        )

    def _h_calendar(self, query, body):
        today = self._clock_values()["timestamp"].astimezone(ET).date()
        try:
            start = date.fromisoformat(query["start"][:10]) if query.get("start") else today
            end = date.fromisoformat(query["end"][:10]) if query.get("end") else start + timedelta(days=30)
        except ValueError:
            raise _ApiError(422, 40010001, "invalid date") from None
        days, d = [], start
        while d <= end and len(days) < 1000:
            if d.weekday() < 5:
                days.append(
                    {
                        "date": d.isoformat(),
                        "open": "09:30",
                        "close": "16:00",
                        "session_open": "0400",
                        "session_close": "2000",
                        "settlement_date": (d + timedelta(days=1)).isoformat(),
                    }
                )
            d += timedelta(days=1)
        return _Resp(200, days)

    def _h_assets(self, query, body):
        with self._lock:
            symbols = sorted(set(self._assets) | set(self._bars) | set(self._prices) | set(self._positions))
            return _Resp(200, [self._asset(s) for s in symbols if self._asset_exists(s)])

    def _h_asset(self, query, body, symbol):
        with self._lock:
            if not self._asset_exists(symbol):
                raise _ApiError(404, 40410000, f"asset not found for {symbol}")
            return _Resp(200, self._asset(symbol))

    async def _h_submit(self, query, body):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise _ApiError(400, 40010000, "request body format is invalid") from None
        if not isinstance(req, dict):
            raise _ApiError(400, 40010000, "request body format is invalid")
        with self._lock:
            o, legs = self._build_order(req)
            for order in [o, *legs]:
                self._orders[order["id"]] = order
                self._order_seq.append(order["id"])
                self._client_ids.setdefault(order["client_order_id"], []).append(order["id"])
            response = self._render(o)
            if self._market_open():
                o["status"] = "new"
                o["updated_at"] = _utcnow()
                self._emit_locked(o, "new")
                if o["order_class"] == "oco":
                    for leg in legs:
                        leg["status"], leg["_active"] = "new", True
                self._auto_fill_locked(o)
            timeout = self._submit_timeouts.pop(0) if self._submit_timeouts else None
        if timeout is not None:
            delay, drop = timeout
            await asyncio.sleep(delay)
            if drop:
                return _DROP
        return _Resp(200, response)

    def _build_order(self, req: dict) -> tuple[dict, list[dict]]:
        symbol = str(req.get("symbol") or "").strip().upper()
        if not symbol:
            raise _unprocessable("symbol is required")
        side = req.get("side")
        if side not in ("buy", "sell"):
            raise _unprocessable(f"invalid side: {side!r}")
        otype = req.get("type") or req.get("order_type")
        if otype not in ORDER_TYPES:
            raise _unprocessable(f"invalid order type: {otype!r}")
        tif = req.get("time_in_force")
        if tif not in TIME_IN_FORCE:
            raise _unprocessable(f"invalid time_in_force: {tif!r}")
        qty, notional = _fnum(req, "qty"), _fnum(req, "notional")
        if (qty is None) == (notional is None):
            raise _unprocessable(
                "qty or notional is required" if qty is None else "only one of qty or notional can be specified"
            )
        if qty is not None and qty <= 0:
            raise _unprocessable("qty must be > 0")
        if notional is not None and notional <= 0:
            raise _unprocessable("notional must be > 0")
        fractional = notional is not None or qty != int(qty)
        order_class = req.get("order_class") or ""
        if order_class not in ORDER_CLASSES:
            raise _unprocessable(f"invalid order_class: {order_class!r}")
        if order_class == "simple":
            order_class = ""
        if fractional and tif != "day":
            raise _ApiError(422, 42210000, "fractional orders must be DAY orders")
        if fractional and order_class:
            raise _ApiError(422, 42210000, "fractional orders must be simple orders")
        if notional is not None and otype != "market":
            raise _unprocessable("notional orders must be market orders")
        limit_price, stop_price = _fnum(req, "limit_price"), _fnum(req, "stop_price")
        if otype in ("limit", "stop_limit") and limit_price is None:
            raise _unprocessable("limit_price is required")
        if otype in ("stop", "stop_limit") and stop_price is None:
            raise _unprocessable("stop_price is required")
        if otype == "market" and (limit_price is not None or stop_price is not None):
            raise _unprocessable("market orders cannot have limit_price or stop_price")
        trail_price, trail_percent = _fnum(req, "trail_price"), _fnum(req, "trail_percent")
        if otype == "trailing_stop" and (trail_price is None) == (trail_percent is None):
            raise _unprocessable("trailing_stop orders need exactly one of trail_price or trail_percent")
        for name, value in (("limit_price", limit_price), ("stop_price", stop_price)):
            if value is not None and value <= 0:
                raise _unprocessable(f"{name} must be > 0")
        cid = req.get("client_order_id")
        if cid is None or cid == "":
            cid = str(uuid.uuid4())
        cid = str(cid)
        if len(cid) > 128:
            raise _unprocessable("client_order_id must be no more than 128 characters")
        if cid in self._client_ids:
            raise _unprocessable("client_order_id must be unique")
        if not self._asset_exists(symbol):
            raise _unprocessable(f'could not find asset "{symbol}"')
        asset = self._asset(symbol)
        if not asset.get("tradable", True) or asset.get("status") != "active":
            raise _unprocessable(f"asset {symbol} is not tradable")
        if fractional and not asset.get("fractionable", True):
            raise _unprocessable(f"asset {symbol} is not fractionable")
        take_profit, stop_loss = req.get("take_profit") or None, req.get("stop_loss") or None
        tp_limit = _fnum(take_profit, "limit_price") if isinstance(take_profit, dict) else None
        sl_stop = _fnum(stop_loss, "stop_price") if isinstance(stop_loss, dict) else None
        sl_limit = _fnum(stop_loss, "limit_price") if isinstance(stop_loss, dict) else None
        if order_class == "bracket":
            if tp_limit is None or sl_stop is None:
                raise _unprocessable("bracket orders require take_profit.limit_price and stop_loss.stop_price")
            if otype not in ("market", "limit"):
                raise _unprocessable("bracket orders must be market or limit orders")
            if (side == "buy" and tp_limit <= sl_stop) or (side == "sell" and tp_limit >= sl_stop):
                raise _unprocessable("take_profit.limit_price must be beyond stop_loss.stop_price")
        elif order_class == "oto":
            if (tp_limit is None) == (sl_stop is None):
                raise _unprocessable("oto orders require exactly one of take_profit or stop_loss")
        elif order_class == "oco":
            if otype != "limit" or sl_stop is None:
                raise _unprocessable("oco orders must be limit orders with stop_loss.stop_price")
        est = limit_price or stop_price or self._price(symbol)
        cost = notional if notional is not None else qty * est
        if side == "buy" and self.enforce_buying_power and cost > self._buying_power() + 1e-6:
            raise _ApiError(403, 40310000, "insufficient buying power")
        position = self._positions.get(symbol, {"qty": 0.0})["qty"]
        if side == "buy":
            intent = "buy_to_close" if position < 0 else "buy_to_open"
        else:
            intent = "sell_to_close" if position > 0 else "sell_to_open"
        now = _utcnow()

        def make(**fields) -> dict:
            o = {
                "id": str(uuid.uuid4()),
                "client_order_id": str(uuid.uuid4()),
                "created_at": now,
                "updated_at": now,
                "submitted_at": now,
                "filled_at": None,
                "expired_at": None,
                "canceled_at": None,
                "failed_at": None,
                "replaced_at": None,
                "replaced_by": None,
                "replaces": None,
                "asset_id": asset["id"],
                "symbol": symbol,
                "notional": None,
                "qty": qty,
                "filled_qty": 0.0,
                "filled_avg_price": None,
                "order_class": order_class,
                "type": otype,
                "side": side,
                "position_intent": intent,
                "time_in_force": tif,
                "limit_price": None,
                "stop_price": None,
                "status": "held",
                "extended_hours": bool(req.get("extended_hours") or False),
                "trail_percent": None,
                "trail_price": None,
                "hwm": None,
                "_legs": None,
                "_parent": None,
                "_oco": None,
                "_active": False,
                "_notional_qty": None,
            }
            o.update(fields)
            return o

        parent = make(
            client_order_id=cid,
            notional=notional,
            limit_price=limit_price,
            stop_price=stop_price,
            trail_price=trail_price,
            trail_percent=trail_percent,
            status="pending_new" if self._market_open() else "accepted",
            _active=True,
        )
        exit_side = "sell" if side == "buy" else "buy"
        exit_intent = "sell_to_close" if side == "buy" else "buy_to_close"
        legs: list[dict] = []
        if order_class in ("bracket", "oto") and tp_limit is not None:
            legs.append(
                make(
                    type="limit",
                    side=exit_side,
                    position_intent=exit_intent,
                    limit_price=tp_limit,
                    _parent=parent["id"],
                )
            )
        if order_class in ("bracket", "oto", "oco") and sl_stop is not None:
            legs.append(
                make(
                    type="stop_limit" if sl_limit is not None else "stop",
                    side=exit_side if order_class != "oco" else side,
                    position_intent=exit_intent if order_class != "oco" else intent,
                    stop_price=sl_stop,
                    limit_price=sl_limit,
                    _parent=parent["id"],
                )
            )
        if legs:
            parent["_legs"] = [leg["id"] for leg in legs]
        if len(legs) == 2:  # bracket: take-profit and stop-loss cancel each other
            legs[0]["_oco"], legs[1]["_oco"] = [legs[1]["id"]], [legs[0]["id"]]
        if order_class == "oco":
            parent["_oco"], legs[0]["_oco"] = [legs[0]["id"]], [parent["id"]]
        return parent, legs

    def _order_or_404(self, order_id: str) -> dict:
        o = self._orders.get(order_id)
        if o is None:
            raise _ApiError(404, 40410000, "order not found")
        return o

    def _h_list_orders(self, query, body):
        status = query.get("status", "open")
        if status not in ("open", "closed", "all"):
            raise _unprocessable(f"invalid status: {status!r}")
        try:
            limit = min(max(int(query.get("limit") or 50), 1), 500)
        except ValueError:
            raise _unprocessable("invalid limit") from None
        nested = query.get("nested", "").lower() == "true"
        symbols = {s.strip().upper() for s in query.get("symbols", "").split(",") if s.strip()}
        side = query.get("side")
        after, until = _parse_time_param(query, "after"), _parse_time_param(query, "until")
        with self._lock:
            sel = []
            for oid in self._order_seq:
                o = self._orders[oid]
                if nested and o["_parent"] is not None:
                    continue
                if status == "open" and o["status"] in CLOSED_STATUSES:
                    continue
                if status == "closed" and o["status"] not in CLOSED_STATUSES:
                    continue
                if symbols and o["symbol"] not in symbols:
                    continue
                if side and o["side"] != side:
                    continue
                t = _ns(o["submitted_at"])
                if (after is not None and t <= after) or (until is not None and t >= until):
                    continue
                sel.append(o)
            if query.get("direction", "desc") != "asc":
                sel.reverse()
            return _Resp(200, [self._render(o, legs=nested) for o in sel[:limit]])

    def _h_get_order(self, query, body, order_id):
        with self._lock:
            return _Resp(200, self._render(self._order_or_404(order_id)))

    def _h_order_by_client_id(self, query, body):
        cid = query.get("client_order_id")
        with self._lock:
            ids = self._client_ids.get(cid or "")
            if not ids:
                raise _ApiError(404, 40410000, "order not found")
            return _Resp(200, self._render(self._orders[ids[-1]]))

    def _h_cancel_order(self, query, body, order_id):
        with self._lock:
            o = self._order_or_404(order_id)
            if o["status"] in CLOSED_STATUSES:
                raise _ApiError(422, 42210000, f'order is already in "{o["status"]}" state')
            self._cancel_locked(o)
        return _Resp(204)

    def _h_cancel_all(self, query, body):
        with self._lock:
            out = []
            for oid in list(self._order_seq):
                o = self._orders[oid]
                if o["status"] not in CLOSED_STATUSES and o["_parent"] is None:
                    self._cancel_locked(o)
                    out.append({"id": oid, "status": 200, "body": self._render(o)})
        return _Resp(207, out)

    def _h_replace_order(self, query, body, order_id):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise _ApiError(400, 40010000, "request body format is invalid") from None
        with self._lock:
            old = self._order_or_404(order_id)
            if old["status"] in CLOSED_STATUSES or old["_parent"] is not None and not old["_active"]:
                raise _ApiError(422, 42210000, f'order is in "{old["status"]}" state, it cannot be replaced')
            cid = str(req.get("client_order_id") or uuid.uuid4())
            if cid in self._client_ids:
                raise _unprocessable("client_order_id must be unique")
            now = _utcnow()
            new = dict(old)
            new.update(
                id=str(uuid.uuid4()),
                client_order_id=cid,
                created_at=now,
                updated_at=now,
                submitted_at=now,
                replaces=old["id"],
                status="new",
                filled_qty=0.0,
                filled_avg_price=None,
                filled_at=None,
                _legs=None,
                _oco=None,
            )
            if new["qty"] is not None:  # what is left of the old order, unless a new qty is given
                new["qty"] = round(old["qty"] - old["filled_qty"], 9)
            for key in ("qty", "limit_price", "stop_price", "trail_price"):
                value = _fnum(req, "trail" if key == "trail_price" else key)
                if value is not None:
                    new[key] = value
            if req.get("time_in_force"):
                new["time_in_force"] = req["time_in_force"]
            old.update(status="replaced", replaced_at=now, replaced_by=new["id"], updated_at=now)
            self._orders[new["id"]] = new
            self._order_seq.append(new["id"])
            self._client_ids.setdefault(cid, []).append(new["id"])
            self._emit_locked(old, "replaced")
            self._emit_locked(new, "new")
            self._auto_fill_locked(new)
            return _Resp(200, self._render(new))

    def _position_json(self, symbol: str) -> dict:
        p = self._positions[symbol]
        qty, avg = p["qty"], p["avg"]
        price = self._price(symbol)
        market_value, cost_basis = qty * price, qty * avg
        pl = market_value - cost_basis
        held = sum(
            round(o["qty"] - o["filled_qty"], 9)
            for o in self._orders.values()
            if o["symbol"] == symbol
            and o["qty"] is not None
            and o["status"] not in CLOSED_STATUSES
            and o["_active"]
            and (o["side"] == "sell") == (qty > 0)
        )
        return {
            "asset_id": _asset_id(symbol),
            "symbol": symbol,
            "exchange": self._asset(symbol)["exchange"],
            "asset_class": "us_equity",
            "asset_marginable": True,
            "qty": _num(qty),
            "qty_available": _num((abs(qty) - held) * (1 if qty > 0 else -1)),
            "avg_entry_price": _num(avg),
            "side": "long" if qty > 0 else "short",
            "market_value": _num(market_value),
            "cost_basis": _num(cost_basis),
            "unrealized_pl": _num(pl),
            "unrealized_plpc": _num(pl / abs(cost_basis) if cost_basis else 0),
            "unrealized_intraday_pl": _num(pl),
            "unrealized_intraday_plpc": _num(pl / abs(cost_basis) if cost_basis else 0),
            "current_price": _num(price),
            "lastday_price": _num(price),
            "change_today": "0",
        }

    def _h_positions(self, query, body):
        with self._lock:
            return _Resp(200, [self._position_json(s) for s in sorted(self._positions)])

    def _h_position(self, query, body, symbol):
        with self._lock:
            if symbol not in self._positions:
                raise _ApiError(404, 40410000, "position does not exist")
            return _Resp(200, self._position_json(symbol))

    def _close_position_locked(self, symbol: str, query: dict) -> dict:
        qty = self._positions[symbol]["qty"]
        amount = abs(qty)
        if query.get("qty"):
            amount = min(amount, float(query["qty"]))
        elif query.get("percentage"):
            amount = round(amount * float(query["percentage"]) / 100.0, 9)
        o, _ = self._build_order(
            {
                "symbol": symbol,
                "qty": amount,
                "side": "sell" if qty > 0 else "buy",
                "type": "market",
                "time_in_force": "day",
            }
        )
        self._orders[o["id"]] = o
        self._order_seq.append(o["id"])
        self._client_ids.setdefault(o["client_order_id"], []).append(o["id"])
        rendered = self._render(o)
        if self._market_open():
            o["status"] = "new"
            self._emit_locked(o, "new")
            self._auto_fill_locked(o)
        return rendered

    def _h_close_position(self, query, body, symbol):
        with self._lock:
            if symbol not in self._positions:
                raise _ApiError(404, 40410000, f"position not found: {symbol}")
            return _Resp(200, self._close_position_locked(symbol, query))

    def _h_close_all(self, query, body):
        with self._lock:
            if query.get("cancel_orders", "").lower() == "true":
                for oid in list(self._order_seq):
                    o = self._orders[oid]
                    if o["status"] not in CLOSED_STATUSES and o["_parent"] is None:
                        self._cancel_locked(o)
            out = [
                {"symbol": s, "status": 200, "body": self._close_position_locked(s, {})}
                for s in sorted(self._positions)
            ]
        return _Resp(207, out)

    # ---------------------------------------------------------------- data handlers

    def _symbols(self, query) -> list[str]:
        symbols = [s.strip() for s in query.get("symbols", "").split(",") if s.strip()]
        if not symbols:
            raise _ApiError(400, 40010001, "symbols is required")
        return symbols

    def _select_bars(self, symbol: str, amount: int, unit: str, start: int | None, end: int | None) -> list[dict]:
        with self._lock:
            keys = self._bar_keys.get(symbol, [])
            store = self._bars.get(symbol, {})
            sel = [store[k] for k in keys if (start is None or k >= start) and (end is None or k <= end)]
            step = None
            if len(keys) >= 2:
                diffs = sorted(b - a for a, b in zip(keys, keys[1:]))
                step = diffs[len(diffs) // 2] / _NS
        want = amount * _UNIT_SECONDS[unit]
        if not sel or step is None or want <= step * 1.01:
            return [dict(b) for b in sel]
        return self._resample(sel, amount, unit)

    @staticmethod
    def _resample(bars: list[dict], amount: int, unit: str) -> list[dict]:
        df = pd.DataFrame(bars)
        idx = pd.DatetimeIndex(pd.to_datetime(df["t"], unit="ns", utc=True))
        if unit in ("Min", "Hour"):
            step = amount * _UNIT_SECONDS[unit] * _NS
            key = (df["t"] // step) * step
        else:
            local = idx.tz_convert(ET)
            day = local.normalize()
            if unit == "Week":
                day = day - pd.to_timedelta(local.weekday, unit="D")
            elif unit == "Month":
                day = pd.DatetimeIndex([pd.Timestamp(year=d.year, month=d.month, day=1, tz=ET) for d in local])
            key = pd.Series(day.tz_convert("UTC").asi8, index=df.index)
        df["key"] = key.values
        df["pv"] = df["vw"] * df["v"]
        g = df.groupby("key", sort=True)
        out = pd.DataFrame(
            {
                "o": g["o"].first(),
                "h": g["h"].max(),
                "l": g["l"].min(),
                "c": g["c"].last(),
                "v": g["v"].sum(),
                "n": g["n"].sum(),
                "pv": g["pv"].sum(),
            }
        )
        res = []
        for t, row in out.iterrows():
            vw = row["pv"] / row["v"] if row["v"] else (row["o"] + row["h"] + row["l"] + row["c"]) / 4
            res.append(
                {
                    "t": int(t),
                    "o": float(row["o"]),
                    "h": float(row["h"]),
                    "l": float(row["l"]),
                    "c": float(row["c"]),
                    "v": float(row["v"]),
                    "n": float(row["n"]),
                    "vw": float(vw),
                }
            )
        return res

    def _bars_query(self, query, symbols: list[str]) -> tuple[list[tuple[str, dict]], str | None]:
        amount, unit = _parse_timeframe(query.get("timeframe"))
        start, end = _parse_time_param(query, "start"), _parse_time_param(query, "end")
        try:
            limit = int(query.get("limit") or 1000)
        except ValueError:
            raise _ApiError(422, 42210000, "invalid limit") from None
        limit = max(1, min(limit, 10_000, int(self.bars_page_limit)))
        desc = query.get("sort", "asc") == "desc"
        flat: list[tuple[str, dict]] = []
        for sym in sorted(set(symbols)):
            bars = self._select_bars(sym, amount, unit, start, end)
            if desc:
                bars.reverse()
            flat.extend((sym, b) for b in bars)
        offset = _decode_page_token(query.get("page_token"))
        page = flat[offset : offset + limit]
        token = _encode_page_token(offset + limit) if offset + limit < len(flat) else None
        return page, token

    def _h_bars(self, query, body):
        page, token = self._bars_query(query, self._symbols(query))
        out: dict[str, list] = {}
        for sym, b in page:
            out.setdefault(sym, []).append(_bar_json(b))
        return _Resp(200, {"bars": out, "next_page_token": token, "currency": "USD"})

    def _h_symbol_bars(self, query, body, symbol):
        page, token = self._bars_query(query, [symbol])
        return _Resp(
            200,
            {"bars": [_bar_json(b) for _, b in page], "symbol": symbol, "next_page_token": token, "currency": "USD"},
        )

    def _latest_bar(self, symbol: str) -> dict | None:
        with self._lock:
            keys = self._bar_keys.get(symbol)
            return dict(self._bars[symbol][keys[-1]]) if keys else None

    def _latest_trade(self, symbol: str) -> dict | None:
        with self._lock:
            if symbol not in self._prices:
                return None
            price = self._prices[symbol]
        bar = self._latest_bar(symbol)
        t = bar["t"] if bar else _ns(_utcnow())
        return {"t": _iso_ns(t), "x": "V", "p": price, "s": 100, "c": ["@"], "i": 1, "z": "C"}

    def _latest_quote(self, symbol: str) -> dict | None:
        trade = self._latest_trade(symbol)
        if trade is None:
            return None
        p = trade["p"]
        return {
            "t": trade["t"],
            "ax": "V",
            "ap": round(p + 0.01, 4),
            "as": 1,
            "bx": "V",
            "bp": round(p - 0.01, 4),
            "bs": 1,
            "c": ["R"],
            "z": "C",
        }

    def _snapshot(self, symbol: str) -> dict | None:
        trade = self._latest_trade(symbol)
        if trade is None:
            return None
        with self._lock:
            keys = self._bar_keys.get(symbol, [])
            last = [_bar_json(self._bars[symbol][k]) for k in keys[-2:]]
        return {
            "latestTrade": trade,
            "latestQuote": self._latest_quote(symbol),
            "minuteBar": last[-1] if last else None,
            "dailyBar": last[-1] if last else None,
            "prevDailyBar": last[-2] if len(last) > 1 else None,
        }

    def _h_latest_bars(self, query, body):
        out = {}
        for sym in self._symbols(query):
            bar = self._latest_bar(sym)
            if bar is not None:
                out[sym] = _bar_json(bar)
        return _Resp(200, {"bars": out})

    def _h_symbol_latest_bar(self, query, body, symbol):
        bar = self._latest_bar(symbol)
        if bar is None:
            raise _ApiError(404, 40410000, f"no bar found for {symbol}")
        return _Resp(200, {"symbol": symbol, "bar": _bar_json(bar)})

    def _h_latest_trades(self, query, body):
        return _Resp(200, {"trades": {s: t for s in self._symbols(query) if (t := self._latest_trade(s)) is not None}})

    def _h_symbol_latest_trade(self, query, body, symbol):
        trade = self._latest_trade(symbol)
        if trade is None:
            raise _ApiError(404, 40410000, f"no trade found for {symbol}")
        return _Resp(200, {"symbol": symbol, "trade": trade})

    def _h_latest_quotes(self, query, body):
        return _Resp(200, {"quotes": {s: q for s in self._symbols(query) if (q := self._latest_quote(s)) is not None}})

    def _h_symbol_latest_quote(self, query, body, symbol):
        quote = self._latest_quote(symbol)
        if quote is None:
            raise _ApiError(404, 40410000, f"no quote found for {symbol}")
        return _Resp(200, {"symbol": symbol, "quote": quote})

    def _h_snapshots(self, query, body):
        return _Resp(200, {s: snap for s in self._symbols(query) if (snap := self._snapshot(s)) is not None})

    def _h_symbol_snapshot(self, query, body, symbol):
        snap = self._snapshot(symbol)
        if snap is None:
            raise _ApiError(404, 40410000, f"no snapshot found for {symbol}")
        return _Resp(200, {"symbol": symbol, **snap})

    # ---------------------------------------------------------------- websockets

    async def _ws_session(
        self,
        kind: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: bytes,
        target: str,
        headers: dict[str, str],
    ) -> None:
        path = unquote(urlsplit(target).path)
        if kind == "trading":
            path_ok = path.rstrip("/") == "/stream"
        else:
            path_ok = re.fullmatch(r"/v\d+(beta\d+)?/[A-Za-z0-9_./-]+", path) is not None
        with self._lock:
            down = self._streams_down
        if down or not path_ok:
            status, reason = (503, "Service Unavailable") if down else (404, "Not Found")
            writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            return
        protocol = ServerProtocol(max_size=2**22, logger=_SILENT_WS_LOGGER)
        protocol.receive_data(head)
        events = protocol.events_received()
        if not events:
            return
        response = protocol.accept(events[0])
        protocol.send_response(response)
        codec = "msgpack" if "msgpack" in headers.get("content-type", "").lower() else "json"
        conn = _WSConn(kind, path, writer, protocol, codec)
        conn.flush()
        if response.status_code != 101:
            return
        with self._lock:
            self._ws_conns.add(conn)
            self._ws_connections.append((time.monotonic(), kind, path))
        try:
            if kind == "data":
                conn.send([{"T": "success", "msg": "connected"}])
            while True:
                data = await reader.read(65536)
                if data:
                    protocol.receive_data(data)
                else:
                    protocol.receive_eof()
                for event in protocol.events_received():
                    message = conn.assemble(event)
                    if message is not None:
                        self._on_ws_message(conn, *message)
                conn.flush()
                if not data or protocol.state is State.CLOSED:
                    return
        finally:
            with self._lock:
                self._ws_conns.discard(conn)

    def _on_ws_message(self, conn: _WSConn, opcode: Opcode, payload: bytes) -> None:
        obj = None
        decoders = (
            [json.loads]
            if opcode is Opcode.TEXT
            else [json.loads, msgpack.unpackb]
            if conn.kind == "trading"
            else [msgpack.unpackb, json.loads]
        )
        for decode in decoders:
            try:
                obj = decode(payload)
                break
            except Exception:
                continue
        if not isinstance(obj, dict):
            if conn.kind == "data":
                conn.send([{"T": "error", "code": 400, "msg": "invalid syntax"}])
            return
        if conn.kind == "trading":
            self._on_trading_message(conn, obj)
        else:
            self._on_data_message(conn, obj)

    def _on_trading_message(self, conn: _WSConn, obj: dict) -> None:
        action = obj.get("action")
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        if action in ("authenticate", "auth"):
            key = data.get("key_id", obj.get("key"))
            secret = data.get("secret_key", obj.get("secret"))
            if key == self._key_id and secret == self._secret_key:
                with self._lock:
                    conn.authed = True
                conn.send({"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}})
            else:
                conn.send(
                    {
                        "stream": "authorization",
                        "data": {
                            "action": "authenticate",
                            "status": "unauthorized",
                            "message": "access key verification failed",
                        },
                    }
                )
                conn.close(1008, "unauthorized")
        elif action == "listen":
            if not conn.authed:
                conn.send({"stream": "authorization", "data": {"action": "listen", "status": "unauthorized"}})
                return
            streams = [s for s in (data.get("streams") or []) if s == "trade_updates"]
            with self._lock:
                conn.listening = bool(streams)
            conn.send({"stream": "listening", "data": {"streams": streams}})
        else:
            conn.send({"stream": "error", "data": {"error_message": f"unknown action {action!r}"}})

    def _on_data_message(self, conn: _WSConn, obj: dict) -> None:
        action = obj.get("action")
        if action == "auth":
            if conn.authed:
                conn.send([{"T": "error", "code": 403, "msg": "already authenticated"}])
                return
            if obj.get("key") != self._key_id or obj.get("secret") != self._secret_key:
                conn.send([{"T": "error", "code": 402, "msg": "auth failed"}])
                conn.close(1008, "auth failed")
                return
            limit = self.data_stream_connection_limit
            with self._lock:
                news = _is_news(conn)  # the news stream is its own connection, limited apart from market data
                active = sum(1 for c in self._ws_conns if c.kind == "data" and c.authed and _is_news(c) == news)
                allowed = limit is None or active < limit
                if allowed:
                    conn.authed = True
            if not allowed:
                conn.send([{"T": "error", "code": 406, "msg": "connection limit exceeded"}])
                conn.close(1008, "connection limit exceeded")
                return
            conn.send([{"T": "success", "msg": "authenticated"}])
        elif action in ("subscribe", "unsubscribe"):
            if not conn.authed:
                conn.send([{"T": "error", "code": 401, "msg": "not authenticated"}])
                return
            with self._lock:
                for ch in DATA_CHANNELS:
                    if ch in ("corrections", "cancelErrors"):
                        continue
                    symbols = obj.get(ch) or []
                    if isinstance(symbols, str):
                        symbols = [symbols]
                    if action == "subscribe":
                        conn.subs[ch].update(symbols)
                    else:
                        conn.subs[ch].difference_update(symbols)
                conn.subs["corrections"] = set(conn.subs["trades"])
                conn.subs["cancelErrors"] = set(conn.subs["trades"])
                reply = {"T": "subscription", **{ch: sorted(conn.subs[ch]) for ch in DATA_CHANNELS}}
            conn.send([reply])
        else:
            conn.send([{"T": "error", "code": 400, "msg": "invalid syntax"}])

    def _broadcast_trading(self, msg: dict) -> None:
        with self._lock:
            targets = [c for c in self._ws_conns if c.kind == "trading" and c.authed and c.listening]
        for conn in targets:
            conn.send(msg)

    def _broadcast_news(self, msg: dict) -> None:
        symbols = set(msg.get("symbols") or [])
        with self._lock:
            targets = [
                c
                for c in self._ws_conns
                if c.kind == "data" and c.authed and _is_news(c) and (symbols & c.subs["news"] or "*" in c.subs["news"])
            ]
        for conn in targets:
            conn.send([msg])

    def _broadcast_data(self, channel: str, symbol: str, msg: dict) -> None:
        with self._lock:
            targets = [
                c
                for c in self._ws_conns
                if c.kind == "data" and c.authed and (symbol in c.subs[channel] or "*" in c.subs[channel])
            ]
        for conn in targets:
            conn.send([msg])
