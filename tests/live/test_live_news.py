"""Live news: the store's news stream (alpaca-py NewsDataStream) and REST backfill against the
loopback server, and the point-in-time per-bar columns that live predictors see."""

from __future__ import annotations

import time

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from autostock.feeds.btfeed import FrameFeed
from autostock.indicators.predictor import PredictorIndicator
from autostock.live.news import LiveNews, needs_news
from tests.live.fake_alpaca import FakeAlpaca
from tests.live.fake_alpaca_data import micro_fixtures, push_news
from tests.live.live_helpers import make_store

pytest.importorskip("vaderSentiment", reason="news sentiment needs the 'altdata' extra")

GOOD = "AAPL shares surge after strong earnings beat"
BAD = "AAPL plunges after weak guidance and losses"


@pytest.fixture
def fake():
    server = FakeAlpaca().start()
    try:
        yield server
    finally:
        server.stop()


def test_news_stream_delivers_subscribed_symbols_on_its_own_connection(fake):
    store = make_store(fake)
    got: list[dict] = []
    store.on_news(got.append)
    try:
        store.start_news_stream(["AAPL"])
        fake.wait_data_subscribed(["AAPL"], "news")
        assert fake.stream_clients("news") == 1 and fake.stream_clients("data") == 0
        assert any(path == "/v1beta1/news" for _, kind, path in fake.ws_connections)
        push_news(fake, {"id": 7, "headline": "MSFT only", "symbols": ["MSFT"]})
        push_news(fake, {"id": 8, "headline": GOOD, "summary": "great", "symbols": ["AAPL", "MSFT"],
                         "created_at": "2024-01-02T15:02:00Z"})  # fmt: skip
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # the MSFT-only article, had it been delivered, would be here by now
    finally:
        store.stop()
    assert [r["id"] for r in got] == [8]
    rec = got[0]
    assert rec["headline"] == GOOD and rec["symbols"] == ["AAPL", "MSFT"]
    assert pd.Timestamp(rec["created_at"]) == pd.Timestamp("2024-01-02T15:02:00Z")
    assert pd.Timestamp(rec["received_at"]) > pd.Timestamp(rec["created_at"])
    assert store.reconnects["news"] == 1


def test_store_news_backfill_reads_every_page(fake):
    fx = micro_fixtures(fake)
    fx.page_limit = 2
    for i in range(5):
        fx.news.append({"id": i, "headline": f"h{i}", "summary": "", "symbols": ["AAPL"],
                        "created_at": f"2024-01-02T15:0{i}:00Z"})  # fmt: skip
    store = make_store(fake)
    got = store.news(["AAPL"], pd.Timestamp("2024-01-02", tz="UTC").to_pydatetime())
    assert [r["headline"] for r in got] == [f"h{i}" for i in range(5)]
    assert sum(1 for _, _, p in fake.requests if p == "/v1beta1/news") == 3


def _bars(index: pd.DatetimeIndex) -> pd.DataFrame:
    c = np.linspace(100, 101, len(index))
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1e3}, index=index)


def test_live_news_counts_an_article_only_from_when_it_was_known():
    bars = pd.date_range("2024-01-02 10:00", periods=3, freq="5min")  # New York time, decisions at the stamps
    news = LiveNews()
    news.backfill([{"id": "1", "headline": GOOD, "symbols": ["AAPL"], "created_at": "2024-01-02T14:57:00Z"}])
    # published 09:58 New York but delivered 10:01: it was not known at the 10:00 decision
    news.on_news({"id": "2", "headline": BAD, "symbols": ["AAPL"], "created_at": "2024-01-02T14:58:00Z",
                  "received_at": "2024-01-02T15:01:00Z"})  # fmt: skip
    news.on_news({"id": "2", "headline": BAD, "symbols": ["AAPL"], "created_at": "2024-01-02T14:58:00Z",
                  "received_at": "2024-01-02T15:02:00Z"})  # a replay after a reconnect: counted once  # fmt: skip
    cols = news.columns("AAPL", bars)
    assert cols["news_count"].tolist() == [1.0, 1.0, 0.0]
    assert cols["news_sentiment"].iloc[0] > 0.3 and cols["news_sentiment"].iloc[1] < -0.3
    assert news.columns("MSFT", bars)["news_count"].sum() == 0
    assert LiveNews().columns("AAPL", bars)["news_count"].tolist() == [0.0, 0.0, 0.0]
    assert needs_news(["ret_1", "news_sentiment_sum_5"]) and not needs_news(["ret_1", "vpin_20"])


class _NewsCount:
    """A 'predictor' that returns the news count its features were computed with."""

    training_window_ = pd.Timestamp("2000-01-01")

    def predict(self, X):
        return np.asarray(X["news_count"], dtype=float)


def test_served_predictor_sees_the_run_contexts_news_columns_in_next_mode():
    index = pd.date_range("2024-01-02 10:00", periods=6, freq="5min")
    news = LiveNews()
    news.backfill([{"id": "a", "headline": GOOD, "symbols": ["SYN"], "created_at": "2024-01-02T15:07:00Z"},
                   {"id": "b", "headline": BAD, "symbols": ["SYN"], "created_at": "2024-01-02T15:08:00Z"}])  # fmt: skip
    seen: list[list[str]] = []

    def features(df: pd.DataFrame) -> pd.DataFrame:
        seen.append(list(df.columns))
        return df[["news_count"]]

    class Probe(bt.Strategy):
        def __init__(self):
            self.line = PredictorIndicator(
                self.data, predictor=_NewsCount(), features=features, bar_columns=news.columns
            )
            self.values: list[float] = []

        def next(self):
            self.values.append(float(self.line.prediction[0]))

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(FrameFeed(dataname=_bars(index)), name="SYN")
    cerebro.addstrategy(Probe)
    strat = cerebro.run(runonce=False)[0]
    assert strat.values == [0.0, 0.0, 2.0, 0.0, 0.0, 0.0]  # both articles land on the 10:10 bar
    assert all("news_sentiment" in cols for cols in seen)


def test_a_paper_session_serves_a_news_model_the_streamed_article_from_the_next_bar_on(fake, tmp_path, monkeypatch):
    """The whole ``autostock trade`` session (paper) on the loopback server: an ml_signal model
    with a news feature; an article streamed before a bar's decision is in the predictor's input
    for that bar, one stamped after the next bar's decision is not."""
    from autostock.config import RunSpec
    from autostock.feeds.micro_source import attach
    from autostock.feeds.synthetic import generate_market
    from autostock.models.training import train
    from autostock.models.walkforward import WalkForwardConfig
    from tests.live.live_helpers import SessionThread, daily_bars, push_daily, wait_until

    # a ridge model of the next return on logret_1 and news_count, trained on 2016-2018 with news
    hist = generate_market(["AAPL"], "2016-01-01", "2018-12-31", seed=3)
    rng = np.random.default_rng(5)
    days = [d for d in hist.bars["AAPL"].index if rng.random() < 0.3]
    (tmp_path / "news.json").write_text(pd.Series([
        {"id": str(i), "headline": GOOD, "summary": "", "symbols": ["AAPL"],
         "created_at": (d + pd.Timedelta(hours=11)).tz_localize("America/New_York").isoformat()}
        for i, d in enumerate(days)]).to_json(orient="values"))  # fmt: skip
    model = tmp_path / "model"
    train(attach(hist, "news", str(tmp_path / "news.json")), "ridge", "fwd_return_1", "logret_1,news_count",
          WalkForwardConfig(train=300, test=400), out=model)  # fmt: skip
    # live bars around the real clock: the article is known now, so the first bar whose decision
    # (16:00 New York) is still ahead is the one it counts for
    now = pd.Timestamp.now(tz="America/New_York")
    first = now.tz_localize(None).normalize()
    while first.dayofweek >= 5 or first + pd.Timedelta(hours=16) <= now.tz_localize(None):
        first += pd.Timedelta(days=1)
    history = 5
    bars = daily_bars(["AAPL"], history + 2, seed=9, start=str((first - pd.tseries.offsets.BDay(history)).date()))
    df = bars["AAPL"]
    assert df.index[history] == first
    fake.add_bars("AAPL", df.iloc[:history])
    seen: dict[pd.Timestamp, float] = {}
    predict_frame = PredictorIndicator._predict_frame

    def record(self, frame, tail):
        seen[frame.index[-1]] = float(frame["news_count"].iloc[-1])
        return predict_frame(self, frame, tail)

    monkeypatch.setattr(PredictorIndicator, "_predict_frame", record)
    arrived: list[dict] = []
    on_news = LiveNews.on_news
    monkeypatch.setattr(LiveNews, "on_news", lambda self, r: (on_news(self, r), arrived.append(r)))
    spec = RunSpec(strategy="ml_signal", params={"model": str(model)}, symbols=["AAPL"])
    run = SessionThread(fake, spec, str(tmp_path / "paper.sqlite"), backfill=history).start(fake, ["AAPL"])
    try:
        run.wait_steps(history)
        fake.wait_data_subscribed(["AAPL"], "news")
        assert all(v == 0.0 for v in seen.values())  # the history had no news
        push_news(fake, {"id": 1, "headline": GOOD, "summary": "beat", "symbols": ["AAPL"],
                         "created_at": now.tz_convert("UTC")})  # fmt: skip
        after = df.index[history + 1] + pd.Timedelta(hours=17)  # after the next bar's decision
        push_news(fake, {"id": 2, "headline": BAD, "symbols": ["AAPL"],
                         "created_at": after.tz_localize("America/New_York").tz_convert("UTC")})  # fmt: skip
        wait_until(lambda: len(arrived) == 2, what="two streamed articles")
        for i in (history, history + 1):
            push_daily(fake, "AAPL", df.index[i], df.iloc[i])
            run.wait_steps(i + 1)
    finally:
        assert run.stop() == 0
    assert seen[df.index[history]] == 1.0  # the streamed article is in that bar's input
    assert seen[df.index[history + 1]] == 0.0  # and not again; the late one not at all
