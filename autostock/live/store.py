"""One store per Alpaca account: REST clients, the streams, rate limiting, bar cache.

Alpaca allows one trade-updates stream and one market-data stream per account, so the store
owns both and fans messages out: trade updates to the broker, bars to the data feeds (all
symbols on one subscription). The news stream (``/v1beta1/news``) is a third connection, opened
only when a run needs news (:meth:`start_news_stream`). REST calls pass through one transport that takes a token from the
shared bucket, applies a timeout, and on a 429 waits until ``X-Ratelimit-Reset``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pandas as pd

from autostock.errors import ConfigError
from autostock.live import alpaca_compat as compat
from autostock.live import secrets
from autostock.live.ratelimit import TokenBucket, reset_wait
from autostock.live.retry import Backoff, call_read, status_of, submit_resolving
from autostock.live.waits import Stopper

log = logging.getLogger(__name__)

PAPER_URL = "https://paper-api.alpaca.markets"
LIVE_URL = "https://api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"


@dataclass
class Credentials:
    """Keys and endpoints, from ``APCA_API_*`` variables (environment or ``.env``)."""

    key_id: str
    secret_key: str
    base_url: str
    data_url: str
    paper: bool = True

    @classmethod
    def from_env(cls, live: bool = False, environ: dict[str, str] | None = None) -> Credentials:
        if environ is None:
            from dotenv import load_dotenv

            load_dotenv(override=False)
            environ = dict(os.environ)
        key, secret = environ.get("APCA_API_KEY_ID"), environ.get("APCA_API_SECRET_KEY")
        if not key or not secret:
            raise ConfigError("set APCA_API_KEY_ID and APCA_API_SECRET_KEY (environment or .env)")
        secrets.install_scrubber([key, secret])
        base = environ.get("APCA_API_BASE_URL") or (LIVE_URL if live else PAPER_URL)
        if live and "paper-api" in base:
            raise ConfigError(f"--live given but APCA_API_BASE_URL={base} is the paper endpoint")
        if not live and base.rstrip("/") == LIVE_URL:
            raise ConfigError(f"APCA_API_BASE_URL={base} is the live endpoint: pass --live to trade real money")
        return cls(key, secret, base.rstrip("/"), (environ.get("APCA_API_DATA_URL") or DATA_URL).rstrip("/"), not live)

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(key_id={secrets.mask(self.key_id)}, base_url={self.base_url}, data_url={self.data_url})"

    __str__ = __repr__


def _ws_url(http_url: str) -> str:
    if http_url.startswith("https://"):
        return "wss://" + http_url[len("https://") :]
    if http_url.startswith("http://"):
        return "ws://" + http_url[len("http://") :]
    return http_url


def bar_time(raw: Any) -> pd.Timestamp:
    """A bar's ``t`` (msgpack Timestamp, datetime or ISO string) as a UTC Timestamp."""
    if hasattr(raw, "to_datetime"):
        raw = raw.to_datetime()
    ts = pd.Timestamp(raw)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


class RateLimited(Exception):
    """429s for longer than the store's ``max_rate_wait``: the request was not served."""

    status_code = 429


class AlpacaStore:
    """REST and streams for one account.

    Parameters
    ----------
    creds : Credentials
    timeout : float
        Seconds for every HTTP call (connect and read).
    limiter : TokenBucket, optional
        Shared bucket (default 190 requests per 60 s, burst 10).
    backoff : Backoff, optional
        Retry policy for reads and ambiguous submits.
    bar_cache_ttl : float
        Seconds a latest bar stays fresh in the cache.
    stale_after : float or None
        Seconds without a market-data message, while the market is open (``market_open``),
        before the watchdog forces a reconnect of the data stream (None disables it). The
        trade-updates stream is legitimately silent without orders: the broker's REST poll
        reports it stale (:meth:`report_stale`) when it finds a fill the stream never
        delivered, and the watchdog reconnects it.
    feed : str
        Market data feed for bars and the data stream (``iex`` or ``sip``).
    trading_ws_url, data_stream_url : str, optional
        Explicit stream endpoints; by default derived from the REST URLs
        (``<base>/stream`` and ``<data>/v2/<feed>`` with ws:// or wss://).
    news_stream_url : str, optional
        The news stream; by default ``<data>/v1beta1/news`` (ws:// or wss://).
    max_rate_wait : float
        Most seconds one request waits through repeated 429s before it fails with
        :class:`RateLimited` (a persistent 429 never hangs the session).
    stopper : Stopper, optional
        Its ``set()`` interrupts every wait of the store (token bucket, 429 reset, backoff).
    """

    def __init__(
        self,
        creds: Credentials,
        *,
        timeout: float = 10.0,
        limiter: TokenBucket | None = None,
        backoff: Backoff | None = None,
        bar_cache_ttl: float = 30.0,
        stale_after: float | None = None,
        feed: str = "iex",
        trading_ws_url: str | None = None,
        data_stream_url: str | None = None,
        news_stream_url: str | None = None,
        reconnect_min: float = 1.0,
        reconnect_max: float = 30.0,
        max_rate_wait: float = 60.0,
        stopper: Stopper | None = None,
    ) -> None:
        from autostock.extras import require

        require("live", "alpaca", "trade")  # the top-level package: its submodules may be cached
        from alpaca.data.historical import StockHistoricalDataClient
        from alpaca.trading.client import TradingClient

        compat.check_version()

        if timeout <= 0:
            raise ConfigError(f"HTTP timeout must be > 0 seconds, got {timeout}")
        if feed not in ("iex", "sip"):
            raise ConfigError(f"market data feed must be iex or sip, got {feed!r}")
        self.creds = creds
        secrets.install_scrubber([creds.key_id, creds.secret_key])
        self.timeout = timeout
        self.stopper = stopper or Stopper()
        self.limiter = limiter or TokenBucket(sleep=self.stopper.sleep)
        if self.limiter._sleep is time.sleep:
            self.limiter._sleep = self.stopper.sleep
        self.backoff = backoff or Backoff()
        if self.backoff.sleep is time.sleep:
            self.backoff.sleep = self.stopper.sleep
        self.max_rate_wait = max_rate_wait
        self.bar_cache_ttl = bar_cache_ttl
        self.stale_after = stale_after
        self.feed = feed
        self.trading_ws_url = trading_ws_url or _ws_url(creds.base_url) + "/stream"
        self.data_stream_url = data_stream_url or _ws_url(creds.data_url) + "/v2/" + feed
        self.news_stream_url = news_stream_url or _ws_url(creds.data_url) + "/v1beta1/news"
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.trading = TradingClient(
            creds.key_id, creds.secret_key, paper=creds.paper, raw_data=True, url_override=creds.base_url
        )
        self.data = StockHistoricalDataClient(
            creds.key_id, creds.secret_key, raw_data=True, url_override=creds.data_url
        )
        for client in (self.trading, self.data):
            compat.disable_builtin_retry(client)  # our transport handles 429
            self._install_transport(client)
        self._news_client: Any = None
        self.requests_sent = 0
        self.rate_limited = 0
        self._bar_cache: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()
        self._trade_handlers: list[Callable[[dict], None]] = []
        self._bar_handlers: list[Callable[[str, dict], None]] = []
        self._tick_handlers: list[Callable[[str, str, dict], None]] = []  # (kind, symbol, msg)
        self._news_handlers: list[Callable[[dict], None]] = []
        self._connect_handlers: list[Callable[[str], None]] = []
        self._threads: list[threading.Thread] = []
        self._streams: list[Any] = []
        self._stopping = threading.Event()
        self.last_message: dict[str, float] = {}
        self.market_open = True
        self.reconnects: dict[str, int] = {"trade": 0, "data": 0, "news": 0}
        self._stale: dict[str, str] = {}

    # -- transport -------------------------------------------------------------------------
    def _install_transport(self, client: Any) -> None:
        session = compat.http_session(client)
        raw_request = session.request

        def request(method: str, url: str, **opts: Any):
            opts.setdefault("timeout", self.timeout)
            deadline = time.monotonic() + self.max_rate_wait
            while True:
                self.limiter.acquire()
                with self._lock:
                    self.requests_sent += 1
                resp = raw_request(method, url, **opts)
                if resp.status_code != 429:
                    return resp
                with self._lock:
                    self.rate_limited += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RateLimited(
                        f"{method} {url.split('?')[0]}: still rate limited (429) after {self.max_rate_wait:g}s"
                    )
                wait = min(reset_wait(resp.headers), left)
                log.warning("429 from %s %s: waiting %.2fs for the rate-limit reset", method, url.split("?")[0], wait)
                self.limiter.block_until(time.monotonic() + wait)

        session.request = request

    def read(self, fn: Callable[..., Any], *args: Any, what: str = "read", **kwargs: Any) -> Any:
        """Call a REST read with retries (capped exponential backoff, jitter)."""
        return call_read(fn, *args, backoff=self.backoff, what=what, **kwargs)

    # -- account, clock, orders, positions -------------------------------------------------
    def account(self) -> dict:
        return self.read(self.trading.get_account, what="account")

    def clock(self) -> dict:
        return self.read(self.trading.get_clock, what="clock")

    def positions(self) -> dict[str, dict]:
        """Broker positions by symbol; raises when they cannot be read (never assumes flat)."""
        return {p["symbol"]: p for p in self.read(self.trading.get_all_positions, what="positions")}

    def open_orders(self, symbols: list[str] | None = None) -> list[dict]:
        """Open orders (at most 500, newest first), of ``symbols`` only when given."""
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        req = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500, nested=True, symbols=symbols or None)
        return self.read(self.trading.get_orders, req, what="open orders")

    def recent_orders(self, after: datetime | None = None) -> list[dict]:
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        req = GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500, nested=True, after=after)
        return self.read(self.trading.get_orders, req, what="orders")

    def order(self, order_id: str) -> dict:
        return self.read(self.trading.get_order_by_id, order_id, what=f"order {order_id}")

    def order_by_client_id(self, cid: str) -> dict | None:
        """The broker's order with ``client_order_id`` ``cid``, or None (404)."""

        def lookup() -> dict | None:
            try:
                return cast("dict | None", self.trading.get_order_by_client_id(cid))  # raw_data=True: JSON
            except Exception as exc:
                if status_of(exc) == 404:
                    return None
                raise

        return self.read(lookup, what=f"lookup {cid}")

    def submit(self, request: Any, cid: str) -> dict:
        """Submit ``request`` (an alpaca-py order request carrying ``cid``); see ``submit_resolving``."""
        return submit_resolving(
            lambda: cast(dict, self.trading.submit_order(request)), self.order_by_client_id, cid, backoff=self.backoff
        )

    def cancel(self, order_id: str) -> None:
        def cancel() -> None:
            try:
                self.trading.cancel_order_by_id(order_id)
            except Exception as exc:
                if status_of(exc) in (404, 422):  # already gone or not cancelable
                    return
                raise

        self.read(cancel, what=f"cancel {order_id}")

    def close_all(self) -> Any:
        """Cancel every open order and close every position (the drawdown kill switch)."""
        return self.read(self.trading.close_all_positions, True, what="close all positions")

    # -- market data -----------------------------------------------------------------------
    def bars(
        self,
        symbols: list[str],
        timeframe: str = "1Day",
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> dict[str, pd.DataFrame]:
        """Historical bars for all ``symbols`` in one request (pages followed)."""
        from alpaca.data.enums import Adjustment, DataFeed
        from alpaca.data.requests import StockBarsRequest

        req = StockBarsRequest(
            symbol_or_symbols=list(symbols),
            timeframe=parse_timeframe(timeframe),
            start=start,
            end=end,
            limit=limit,
            adjustment=Adjustment.RAW,
            feed=DataFeed.SIP if self.feed == "sip" else DataFeed.IEX,
        )
        raw = self.read(self.data.get_stock_bars, req, what="bars")
        out: dict[str, pd.DataFrame] = {}
        for sym in symbols:
            rows = (raw or {}).get(sym) or []
            df = pd.DataFrame(
                {
                    "open": [float(r["o"]) for r in rows],
                    "high": [float(r["h"]) for r in rows],
                    "low": [float(r["l"]) for r in rows],
                    "close": [float(r["c"]) for r in rows],
                    "volume": [float(r["v"]) for r in rows],
                },
                index=pd.DatetimeIndex([bar_time(r["t"]) for r in rows], name="date"),
            )
            out[sym] = df.sort_index()
        return out

    def latest_bars(self, symbols: list[str]) -> dict[str, dict]:
        """Latest bar per symbol; cached for ``bar_cache_ttl`` seconds, one request for the rest."""
        from alpaca.data.enums import DataFeed
        from alpaca.data.requests import StockLatestBarRequest

        now = time.monotonic()
        out, missing = {}, []
        for sym in symbols:
            hit = self._bar_cache.get(sym)
            if hit and now - hit[0] < self.bar_cache_ttl:
                out[sym] = hit[1]
            else:
                missing.append(sym)
        if missing:
            req = StockLatestBarRequest(
                symbol_or_symbols=missing, feed=DataFeed.SIP if self.feed == "sip" else DataFeed.IEX
            )
            raw = self.read(self.data.get_stock_latest_bar, req, what="latest bars") or {}
            for sym in missing:
                if sym in raw:
                    self._bar_cache[sym] = (now, raw[sym])
                    out[sym] = raw[sym]
        return out

    def news(self, symbols: list[str], start: datetime, end: datetime | None = None) -> list[dict]:
        """Alpaca news records naming any of ``symbols`` published in [start, end] (every page;
        alpaca-py's ``NewsClient`` through the store's transport)."""
        from alpaca.data.historical.news import NewsClient
        from alpaca.data.requests import NewsRequest

        if self._news_client is None:
            client = NewsClient(
                self.creds.key_id, self.creds.secret_key, raw_data=True, url_override=self.creds.data_url
            )
            compat.disable_builtin_retry(client)
            self._install_transport(client)
            self._news_client = client
        req = NewsRequest(symbols=",".join(symbols), start=start, end=end, limit=None)
        raw = self.read(self._news_client.get_news, req, what="news") or {}
        return list(raw.get("news", []) if isinstance(raw, dict) else [])

    def cache_bar(self, symbol: str, bar: dict) -> None:
        self._bar_cache[symbol] = (time.monotonic(), bar)

    # -- streams ---------------------------------------------------------------------------
    def on_trade_update(self, handler: Callable[[dict], None]) -> None:
        self._trade_handlers.append(handler)

    def on_bar(self, handler: Callable[[str, dict], None]) -> None:
        self._bar_handlers.append(handler)

    def on_tick(self, handler: Callable[[str, str, dict], None]) -> None:
        """``handler(kind, symbol, msg)`` for each streamed quote (``"quotes"``) or trade (``"trades"``)."""
        self._tick_handlers.append(handler)

    def on_news(self, handler: Callable[[dict], None]) -> None:
        """``handler(record)`` for each streamed news article: Alpaca's fields (``id``,
        ``headline``, ``summary``, ``symbols``, ...) with ``created_at`` / ``updated_at`` as UTC
        ISO text and ``received_at``, the UTC time the store received it."""
        self._news_handlers.append(handler)

    def on_connect(self, handler: Callable[[str], None]) -> None:
        """``handler("trade" | "data" | "news")`` after each (re)connect of a stream."""
        self._connect_handlers.append(handler)

    def _connected(self, which: str) -> None:
        self.reconnects[which] += 1
        self.last_message[which] = time.monotonic()
        for h in self._connect_handlers:
            try:
                h(which)
            except Exception:
                log.exception("connect handler failed")

    def start_trade_stream(self) -> None:
        """One trade-updates stream for the account, in a daemon thread."""
        from alpaca.trading.stream import TradingStream

        stream_cls = compat.with_connect_hook(TradingStream, lambda: self._connected("trade"))
        stream = stream_cls(
            self.creds.key_id,
            self.creds.secret_key,
            paper=self.creds.paper,
            raw_data=True,
            url_override=self.trading_ws_url,
        )
        compat.set_reconnect_backoff(stream, self.reconnect_min, self.reconnect_max)

        async def handler(msg: dict) -> None:
            self.last_message["trade"] = time.monotonic()
            data = msg.get("data", msg)
            for h in self._trade_handlers:
                try:
                    h(data)
                except Exception:
                    log.exception("trade update handler failed")

        stream.subscribe_trade_updates(handler)
        self._run_thread(stream, "trade")

    def start_data_stream(self, symbols: list[str], timeframe: str = "1Day", ticks: tuple[str, ...] = ()) -> None:
        """One market-data stream for all ``symbols`` (minute or daily bars), in a daemon thread.

        ``ticks`` adds quote and / or trade subscriptions (``("quotes", "trades")``) on the same
        stream; they go to the :meth:`on_tick` handlers."""
        from alpaca.data.enums import DataFeed
        from alpaca.data.live.stock import StockDataStream

        stream_cls = compat.with_connect_hook(StockDataStream, lambda: self._connected("data"))
        stream = stream_cls(
            self.creds.key_id,
            self.creds.secret_key,
            raw_data=True,
            feed=DataFeed.SIP if self.feed == "sip" else DataFeed.IEX,
            url_override=self.data_stream_url,
        )
        compat.set_reconnect_backoff(stream, self.reconnect_min, self.reconnect_max)

        async def handler(bar: dict) -> None:
            self.last_message["data"] = time.monotonic()
            sym = bar.get("S")
            if not sym:
                return
            self.cache_bar(sym, bar)
            for h in self._bar_handlers:
                try:
                    h(sym, bar)
                except Exception:
                    log.exception("bar handler failed")

        from alpaca.data.timeframe import TimeFrameUnit

        if parse_timeframe(timeframe).unit == TimeFrameUnit.Day:
            stream.subscribe_daily_bars(handler, *symbols)
        else:
            stream.subscribe_bars(handler, *symbols)

        async def tick_handler(msg: dict) -> None:
            self.last_message["data"] = time.monotonic()
            kind = "quotes" if msg.get("T") == "q" else "trades"
            for h in self._tick_handlers:
                try:
                    h(kind, msg.get("S", ""), msg)
                except Exception:
                    log.exception("tick handler failed")

        unknown = set(ticks) - {"quotes", "trades"}
        if unknown:
            raise ValueError(f"ticks: unknown channel(s) {', '.join(sorted(unknown))}; use quotes, trades")
        if "quotes" in ticks:
            stream.subscribe_quotes(tick_handler, *symbols)
        if "trades" in ticks:
            stream.subscribe_trades(tick_handler, *symbols)
        self._run_thread(stream, "data")

    def start_news_stream(self, symbols: list[str]) -> None:
        """The news stream for ``symbols`` (alpaca-py's ``NewsDataStream``), in a daemon thread."""
        from alpaca.data.live.news import NewsDataStream

        stream_cls = compat.with_connect_hook(NewsDataStream, lambda: self._connected("news"))
        stream = stream_cls(self.creds.key_id, self.creds.secret_key, raw_data=True, url_override=self.news_stream_url)
        compat.set_reconnect_backoff(stream, self.reconnect_min, self.reconnect_max)

        async def handler(msg: dict) -> None:
            now = pd.Timestamp.now(tz="UTC")
            self.last_message["news"] = time.monotonic()
            record = {k: v for k, v in msg.items() if k != "T"}
            for key in ("created_at", "updated_at"):
                if record.get(key) is not None:
                    record[key] = bar_time(record[key]).isoformat()
            record["received_at"] = now.isoformat()
            for h in self._news_handlers:
                try:
                    h(dict(record))
                except Exception:
                    log.exception("news handler failed")

        stream.subscribe_news(handler, *symbols)
        self._run_thread(stream, "news")

    def _run_thread(self, stream: Any, which: str) -> None:
        def run() -> None:
            try:
                stream.run()
            except Exception as exc:  # the thread must not die silently
                log.error("%s stream stopped: %s", which, secrets.scrub(str(exc)))

        t = threading.Thread(target=run, name=f"alpaca-{which}-stream", daemon=True)
        self._streams.append((which, stream))
        self._threads.append(t)
        t.start()
        if not any(th.name == "alpaca-watchdog" for th in self._threads):
            w = threading.Thread(target=self._watchdog, name="alpaca-watchdog", daemon=True)
            self._threads.append(w)
            w.start()

    def report_stale(self, which: str, why: str) -> None:
        """Ask the watchdog to reconnect stream ``which`` (``"trade"`` or ``"data"``): e.g. the
        broker's REST poll found a fill that the connected trade-updates stream never delivered."""
        with self._lock:
            first = which not in self._stale
            self._stale[which] = why
        if first:
            log.warning("%s stream stale: %s; reconnecting it", which, why)

    def _watchdog(self) -> None:
        """Reconnect a stream reported stale (:meth:`report_stale`), and a data stream silent
        for ``stale_after`` seconds while the market is open (the stream backs off)."""
        interval = min(1.0, self.stale_after / 4) if self.stale_after else 0.25
        while not self._stopping.wait(interval):
            now = time.monotonic()
            with self._lock:
                flagged, self._stale = dict(self._stale), {}
            for which, stream in list(self._streams):
                if which in flagged:
                    self.last_message[which] = now
                    compat.close_socket(stream)
                    continue
                if which != "data" or not self.market_open or not self.stale_after:
                    continue
                last = self.last_message.get(which)
                if last is None or now - last < self.stale_after:
                    continue
                if compat.close_socket(stream):
                    log.warning("%s stream silent for %.0fs: forcing a reconnect", which, now - last)
                    self.last_message[which] = now

    def stop(self) -> None:
        """Stop every stream and wait briefly for their threads."""
        self._stopping.set()
        self.stopper.set()
        import asyncio

        for _, stream in self._streams:
            loop = compat.running_loop(stream)
            if loop is None:
                continue
            try:
                asyncio.run_coroutine_threadsafe(stream.stop_ws(), loop).result(timeout=2)
                compat.close_socket(stream, wait=2)  # wake the reader now, not at its 5 s poll
            except Exception:
                pass
        for t in self._threads:
            t.join(timeout=5)
        self._streams.clear()
        self._threads.clear()


def parse_timeframe(text: Any) -> Any:
    """``1Day``, ``1Min``, ``5Min``, ``1Hour`` -> alpaca-py TimeFrame (a TimeFrame is returned as is,
    so a timeframe parsed once can be handed on)."""
    from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

    if isinstance(text, TimeFrame):
        return text

    units = {"min": TimeFrameUnit.Minute, "hour": TimeFrameUnit.Hour, "day": TimeFrameUnit.Day}
    low = text.strip().lower()
    for suffix, unit in units.items():
        if low.endswith(suffix):
            amount = low[: -len(suffix)] or "1"
            if amount.isdigit() and int(amount) > 0:
                return TimeFrame(int(amount), unit)
    raise ConfigError(f"timeframe {text!r} not understood: use 1Day, 1Min, 5Min, 15Min or 1Hour")


def utcnow() -> datetime:
    return datetime.now(UTC)
