"""Historical quotes, trades, news and option-chain endpoints for :class:`FakeAlpaca`, from fixtures.

Hooked into ``FakeAlpaca._route``; the fixtures live on the server as ``micro_fixtures(server)``::

    fx = micro_fixtures(fake)
    fx.trades["AAPL"] = trades_df      # timestamp (naive New York or tz-aware), price, size
    fx.quotes["AAPL"] = quotes_df      # timestamp, bid, ask, bid_size, ask_size
    fx.news.append({...})              # Alpaca news records (headline, summary, symbols, created_at, ...)
    fx.chains["AAPL"] = {"AAPL240119C00190000": {"impliedVolatility": .., "greeks": {..}, "dailyBar": {..}}}
    fx.open_interest["AAPL240119C00190000"] = 1234
    fx.page_limit = 7                  # every endpoint pages at most this many items per response

Shapes follow Alpaca's market-data API v2 (``/v2/stocks/trades``, ``/v2/stocks/quotes``:
``{"trades": {SYM: [{"t","x","p","s","c","i","z"}]}, "next_page_token"}``), v1beta1 news
(``{"news": [...], "next_page_token"}``), v1beta1 option chain snapshots
(``{"snapshots": {contract: snapshot}, "next_page_token"}``) and the trading API's option
contracts (``{"option_contracts": [...], "next_page_token"}``). The news websocket
(``/v1beta1/news`` on the data port, its own connection) takes ``{"action": "subscribe", "news":
[...]}`` and :func:`push_news` streams ``{"T": "n", "id", "headline", "summary", "author",
"created_at", "updated_at", "url", "content", "symbols", "source"}`` to the subscribers of any
of its symbols.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tests.live.fake_alpaca import _decode_page_token, _encode_page_token, _Resp


@dataclass
class MicroFixtures:
    trades: dict[str, pd.DataFrame] = field(default_factory=dict)
    quotes: dict[str, pd.DataFrame] = field(default_factory=dict)
    news: list[dict] = field(default_factory=list)
    chains: dict[str, dict[str, dict]] = field(default_factory=dict)
    open_interest: dict[str, float] = field(default_factory=dict)
    page_limit: int = 10_000


def micro_fixtures(server: Any) -> MicroFixtures:
    """The fixtures of ``server`` (created on first use)."""
    fx = getattr(server, "_micro_fixtures", None)
    if fx is None:
        fx = MicroFixtures()
        server._micro_fixtures = fx
    return fx


def _utc(ts: pd.Series) -> pd.Series:
    ts = pd.to_datetime(ts)
    if getattr(ts.dt, "tz", None) is None:
        ts = ts.dt.tz_localize("America/New_York")
    return ts.dt.tz_convert("UTC")


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").tz_localize(None).isoformat(timespec="nanoseconds") + "Z"  # RFC 3339, ns as Alpaca


def _window(query: dict[str, str]) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    def parse(key: str) -> pd.Timestamp | None:
        if not query.get(key):
            return None
        ts = pd.Timestamp(query[key])
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")

    return parse("start"), parse("end")


def _page(items: list, query: dict[str, str], fx: MicroFixtures) -> tuple[list, str | None]:
    offset = _decode_page_token(query.get("page_token"))
    size = min(int(query.get("limit") or fx.page_limit), fx.page_limit)
    chunk = items[offset : offset + size]
    return chunk, (_encode_page_token(offset + size) if offset + size < len(items) else None)


def _tick_rows(kind: str, server: Any, query: dict[str, str]) -> list[tuple[str, dict]]:
    fx = micro_fixtures(server)
    table = fx.trades if kind == "trades" else fx.quotes
    start, end = _window(query)
    rows: list[tuple[str, dict]] = []
    for sym in [s for s in (query.get("symbols") or "").split(",") if s]:
        df = table.get(sym)
        if df is None:
            continue
        ts = _utc(df["timestamp"])
        keep = pd.Series(True, index=df.index)
        if start is not None:
            keep &= ts >= start
        if end is not None:
            keep &= ts <= end
        for i in df.index[keep.to_numpy()]:
            r = df.loc[i]
            if kind == "trades":
                rows.append(
                    (
                        sym,
                        {
                            "t": _iso(ts[i]),
                            "x": "V",
                            "p": float(r["price"]),
                            "s": float(r["size"]),
                            "c": ["@"],
                            "i": int(i),
                            "z": "C",
                        },
                    )
                )
            else:
                rows.append(
                    (
                        sym,
                        {
                            "t": _iso(ts[i]),
                            "ax": "V",
                            "ap": float(r["ask"]),
                            "as": float(r["ask_size"]),
                            "bx": "V",
                            "bp": float(r["bid"]),
                            "bs": float(r["bid_size"]),
                            "c": ["R"],
                            "z": "C",
                        },
                    )
                )
    return rows


def _ticks_handler(kind: str, server: Any):
    def handler(query, body):
        rows, token = _page(_tick_rows(kind, server, query), query, micro_fixtures(server))
        out: dict[str, list] = {}
        for sym, row in rows:
            out.setdefault(sym, []).append(row)
        return _Resp(200, {kind: out, "next_page_token": token, "currency": "USD"})

    return handler


def _news_handler(server: Any):
    def handler(query, body):
        fx = micro_fixtures(server)
        wanted = {s for s in (query.get("symbols") or "").split(",") if s}
        start, end = _window(query)
        items = []
        for rec in sorted(fx.news, key=lambda r: r["created_at"]):
            t = pd.Timestamp(rec["created_at"])
            t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
            if wanted and not wanted & set(rec.get("symbols", [])):
                continue
            if (start is not None and t < start) or (end is not None and t > end):
                continue
            items.append(rec)
        chunk, token = _page(items, query, fx)
        return _Resp(200, {"news": chunk, "next_page_token": token})

    return handler


def _chain_handler(server: Any):
    def handler(query, body, underlying):
        fx = micro_fixtures(server)
        items = sorted((fx.chains.get(underlying) or {}).items())
        chunk, token = _page(items, query, fx)
        return _Resp(200, {"snapshots": dict(chunk), "next_page_token": token})

    return handler


def _contracts_handler(server: Any):
    def handler(query, body):
        fx = micro_fixtures(server)
        roots = {s for s in (query.get("underlying_symbols") or "").split(",") if s}
        items = []
        for und, chain in sorted(fx.chains.items()):
            if roots and und not in roots:
                continue
            for contract in sorted(chain):
                items.append(
                    {
                        "id": contract,
                        "symbol": contract,
                        "underlying_symbol": und,
                        "status": "active",
                        "tradable": True,
                        "open_interest": str(fx.open_interest.get(contract, 0)),
                    }
                )
        chunk, token = _page(items, query, fx)
        return _Resp(200, {"option_contracts": chunk, "next_page_token": token})

    return handler


def data_routes(server: Any) -> list:
    """Routes for the market-data server."""
    r = re.compile
    return [
        ("GET", r(r"/v2/stocks/trades"), _ticks_handler("trades", server)),
        ("GET", r(r"/v2/stocks/quotes"), _ticks_handler("quotes", server)),
        ("GET", r(r"/v1beta1/news"), _news_handler(server)),
        ("GET", r(r"/v1beta1/options/snapshots/([^/]+)"), _chain_handler(server)),
    ]


def trading_routes(server: Any) -> list:
    """Routes for the trading server."""
    return [("GET", re.compile(r"/v2/options/contracts"), _contracts_handler(server))]


def push_quote(server: Any, symbol: str, bid: float, ask: float, bid_size: float = 100, ask_size: float = 100) -> dict:
    """Stream a 'q' quote message to the data-stream subscribers of ``quotes``."""
    from tests.live.fake_alpaca import _ns

    msg = {
        "T": "q",
        "S": symbol,
        "bx": "V",
        "bp": float(bid),
        "bs": float(bid_size),
        "ax": "V",
        "ap": float(ask),
        "as": float(ask_size),
        "c": ["R"],
        "z": "C",
        "t": _ns(pd.Timestamp.now(tz="UTC")),
    }
    server._call_in_loop(server._broadcast_data, "quotes", symbol, msg)
    return msg


def push_news(server: Any, record: dict) -> dict:
    """Stream an Alpaca news message (``T: "n"``) to the news-stream subscribers of its symbols.

    ``record`` holds ``headline``, ``summary``, ``symbols`` and optionally ``id``, ``author``,
    ``source``, ``url``, ``content`` and ``created_at`` / ``updated_at`` (any time; now by
    default). Times go out as msgpack Timestamps (alpaca-py's msgpack codec) or RFC 3339 text."""
    from tests.live.fake_alpaca import _ns

    now = _ns(pd.Timestamp.now(tz="UTC"))
    created = _ns(record["created_at"]) if record.get("created_at") is not None else now
    msg = {
        "T": "n",
        "id": int(record.get("id", now % 1_000_000_007)),
        "headline": str(record["headline"]),
        "summary": str(record.get("summary", "")),
        "author": str(record.get("author", "")),
        "created_at": created,
        "updated_at": _ns(record["updated_at"]) if record.get("updated_at") is not None else created,
        "url": str(record.get("url", "")),
        "content": str(record.get("content", "")),
        "symbols": list(record.get("symbols", [])),
        "source": str(record.get("source", "benzinga")),
    }
    server._call_in_loop(server._broadcast_news, msg)
    return msg
