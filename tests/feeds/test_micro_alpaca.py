"""alpaca-py based loaders of trades, quotes, news and option chains against the loopback server."""

from __future__ import annotations

import pandas as pd
import pytest

from autostock.feeds.news import load_alpaca_news
from autostock.feeds.options import load_alpaca_chain
from autostock.feeds.synthetic_micro import generate_micro
from autostock.feeds.ticks import load_alpaca_ticks
from tests.live.fake_alpaca import FakeAlpaca
from tests.live.fake_alpaca_data import micro_fixtures

KEY, SECRET = "PKTESTKEY", "SECRETCANARY"


@pytest.fixture
def fake(monkeypatch, tmp_path):
    server = FakeAlpaca(key_id=KEY, secret_key=SECRET).start()
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("APCA_API_BASE_URL", server.base_url)
    monkeypatch.setenv("APCA_API_DATA_URL", server.data_url)
    monkeypatch.setenv("AUTOSTOCK_CACHE_DIR", str(tmp_path / "cache"))
    try:
        yield server
    finally:
        server.stop()


def _requests(server, path: str) -> int:
    return sum(1 for _, _, p in server.requests if p == path)


@pytest.mark.parametrize("kind", ["trades", "quotes"])
def test_tick_loader_pages_through_every_page_and_then_reads_the_parquet_cache(fake, kind):
    data = generate_micro("AAPL", 2, 1, trades_per_bar=12, with_alt=False)
    table = getattr(data, kind)
    fx = micro_fixtures(fake)
    getattr(fx, kind)["AAPL"] = table
    fx.page_limit = 7
    got = load_alpaca_ticks(kind, ["AAPL"], "2024-01-02T14:00:00Z", "2024-01-02T21:00:00Z")["AAPL"]
    assert len(got) == len(table) > 14
    assert _requests(fake, f"/v2/stocks/{kind}") == -(-len(table) // 7)
    pd.testing.assert_series_equal(got["timestamp"], table["timestamp"].astype("datetime64[ns]"), check_names=False)
    assert got.iloc[:, 1].tolist() == table.iloc[:, 1].tolist()
    again = load_alpaca_ticks(kind, ["AAPL"], "2024-01-02T14:00:00Z", "2024-01-02T21:00:00Z")["AAPL"]
    assert _requests(fake, f"/v2/stocks/{kind}") == -(-len(table) // 7)  # no new request: cached
    pd.testing.assert_frame_equal(again, got)


def test_news_loader_pages_and_keeps_only_the_asked_symbols(fake):
    fx = micro_fixtures(fake)
    fx.page_limit = 2
    for i in range(5):
        fx.news.append(
            {
                "id": i,
                "headline": f"AAPL headline {i}",
                "summary": "s",
                "author": "a",
                "created_at": f"2024-01-02T15:0{i}:00Z",
                "updated_at": f"2024-01-02T15:0{i}:00Z",
                "url": "https://example.com",
                "symbols": ["AAPL"],
                "source": "benzinga",
                "images": [],
            }
        )
    fx.news.append(
        {
            "id": 9,
            "headline": "MSFT only",
            "summary": "",
            "created_at": "2024-01-02T15:00:00Z",
            "symbols": ["MSFT"],
            "source": "benzinga",
        }
    )
    news = load_alpaca_news(["AAPL"], "2024-01-02", "2024-01-03")
    assert news["headline"].tolist() == [f"AAPL headline {i}" for i in range(5)]
    assert news["created_at"].iloc[0] == pd.Timestamp("2024-01-02 10:00")  # New York time
    assert _requests(fake, "/v1beta1/news") == 3


def test_option_chain_loader_pages_snapshots_and_contracts_for_open_interest(fake):
    fx = micro_fixtures(fake)
    fx.page_limit = 2
    chain = {}
    for typ, delta, iv in (("P", -0.25, 0.40), ("C", 0.25, 0.30), ("P", -0.5, 0.35), ("C", 0.5, 0.32)):
        strike = {"P": 95, "C": 105}[typ] if abs(delta) == 0.25 else 100
        contract = f"AAPL240216{typ}{strike * 1000:08d}"
        chain[contract] = {
            "impliedVolatility": iv,
            "greeks": {"delta": delta, "gamma": 0.01, "theta": -0.02, "vega": 0.1, "rho": 0.01},
            "dailyBar": {"o": 1, "h": 1, "l": 1, "c": 1, "v": 10 if typ == "C" else 30},
            "latestQuote": {"ap": 1.1, "bp": 1.0},
        }
        fx.open_interest[contract] = 100
    fx.chains["AAPL"] = chain
    snaps = load_alpaca_chain("AAPL", as_of=pd.Timestamp("2024-01-02T20:00:00Z"))
    assert len(snaps) == 4 and snaps["open_interest"].sum() == 400
    assert _requests(fake, "/v1beta1/options/snapshots/AAPL") == 2
    assert _requests(fake, "/v2/options/contracts") == 2
    from autostock.feeds.options import snapshot_metrics

    m = snapshot_metrics(snaps, "AAPL").iloc[0]
    assert m["opt_pc_volume"] == pytest.approx(3.0) and m["opt_iv_skew"] == pytest.approx(0.10)


def test_store_streams_quotes_and_trades_on_its_one_market_data_stream(fake):
    import time

    from tests.live.fake_alpaca_data import push_quote
    from tests.live.live_helpers import make_store

    store = make_store(fake)
    got: list[tuple[str, str, float]] = []
    store.on_tick(lambda kind, sym, msg: got.append((kind, sym, msg.get("bp", msg.get("p")))))
    try:
        store.start_data_stream(["AAPL"], "1Min", ticks=("quotes", "trades"))
        fake.wait_data_subscribed(["AAPL"], "quotes")
        fake.wait_data_subscribed(["AAPL"], "trades")
        assert fake.stream_clients("data") == 1  # bars, quotes and trades share one connection
        push_quote(fake, "AAPL", 187.40, 187.42, 300, 100)
        fake.push_trade("AAPL", 187.41, 50)
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(got) == [("quotes", "AAPL", 187.40), ("trades", "AAPL", 187.41)]
    finally:
        store.stop()
