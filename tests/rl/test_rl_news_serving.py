"""An RL policy trained with news features sees the same news live as in a backtest: ``rl_policy``'s
observation builder reads the run context's ``bar_columns`` (the loaded bars' news columns in a
backtest, :class:`~autostock.live.news.LiveNews` live), point in time."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("stable_baselines3", reason="needs the 'rl' extra: pip install 'autostock[rl]'")
pytest.importorskip("vaderSentiment", reason="news sentiment needs the 'altdata' extra")

from autostock.config import RunSpec
from autostock.engine import build_cerebro
from autostock.errors import DataError
from autostock.feeds.market import Market
from autostock.feeds.micro_source import attach
from autostock.live.news import LiveNews, needs_news, served_features
from autostock.rl.serving import PolicyServer
from tests.rl.rl_data import synthetic, train_predictor

NEWS_FEATURES = "news_count,news_sentiment_sum_5"
GOOD = ("AAPL shares surge after strong earnings beat", "AAPL wins praise and record profit")
BAD = ("AAPL plunges after weak guidance and losses", "AAPL hit by lawsuit and crisis fears")


def _articles(index: pd.DatetimeIndex, seed: int = 11) -> list[dict]:
    """Articles on about a third of the days, published in New York trading hours (before 16:00)."""
    rng = np.random.default_rng(seed)
    out = []
    for i, day in enumerate(index):
        if rng.random() < 0.35:
            text = (GOOD if rng.random() < 0.5 else BAD)[int(rng.integers(2))]
            when = (day + pd.Timedelta(hours=int(rng.integers(10, 15)))).tz_localize("America/New_York")
            out.append({"id": str(i), "headline": text, "summary": "", "symbols": ["AAPL"],
                        "created_at": when.tz_convert("UTC").isoformat()})  # fmt: skip
    return out


@pytest.fixture(scope="module")
def news_policy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Market, list[dict]]:
    from autostock.models.walkforward import WalkForwardConfig
    from autostock.rl.execution import CostModel
    from autostock.rl.training import RLSettings, train_policies

    base = tmp_path_factory.mktemp("rlnews")
    plain = synthetic()
    articles = _articles(plain.bars["AAPL"].index)
    (base / "news.json").write_text(json.dumps(articles))
    market = attach(plain, "news", str(base / "news.json"))
    pred = train_predictor(plain, base / "pred", train=300, test=600)
    settings = RLSettings(
        [str(pred)],
        agent="ppo",
        actions="discrete",
        features=f"logret_1,{NEWS_FEATURES}",
        walk=WalkForwardConfig(train=150, test=400),
        timesteps=256,
        seeds=[0],
        episode_bars=60,
        net=(8,),
        costs=CostModel(commission=0.05),
    )
    train_policies(market, settings, out=base / "pol")
    return base / "pol", market, articles


def _served_rows(spec: RunSpec, market: Market, monkeypatch: pytest.MonkeyPatch, **kw) -> dict:
    """Run ``spec`` and return {bar: (market row, action)} of every policy decision."""
    rows: dict = {}
    row_of, decide = PolicyServer.market_row, PolicyServer.decide

    def market_row(self, bars):
        row = row_of(self, bars)
        rows[bars.index[-1]] = [row, None]
        return row

    def decide_and_record(self, bars, account):
        w = decide(self, bars, account)
        rows[bars.index[-1]][1] = w
        return w

    monkeypatch.setattr(PolicyServer, "market_row", market_row)
    monkeypatch.setattr(PolicyServer, "decide", decide_and_record)
    build_cerebro(spec, market, record=False, **kw).run()
    monkeypatch.undo()
    return rows


def test_rl_policy_with_news_features_observes_the_same_news_in_a_backtest_and_live(news_policy, monkeypatch):
    folder, market, articles = news_policy
    params = json.loads((folder / "params.json").read_text())
    start = params["folds"]["AAPL"][-1]["test_start"]
    index = market.bars["AAPL"].index
    warm = str(index[index.get_loc(pd.Timestamp(start)) - 30].date())
    spec = RunSpec(
        strategy="rl_policy",
        params={"policy": str(folder), "serve": "policy", "act_from": start, "lookback": 40},
        symbols=["AAPL"],
        commission=0.05,
        start=warm,
        end=str(index[index.get_loc(pd.Timestamp(start)) + 120].date()),
    )
    window = market.slice(spec.start, spec.end)
    # backtest: the news columns are on the loaded bars (--data "...+news:news.json")
    backtest = _served_rows(spec, window, monkeypatch)
    # live path: bars without news, the session's LiveNews (the same articles) as bar_columns
    ohlcv = replace(window, bars={"AAPL": window.bars["AAPL"][["open", "high", "low", "close", "volume"]]})
    live = LiveNews()
    live.backfill(articles)
    served = _served_rows(spec, ohlcv, monkeypatch, bar_columns=live.columns)
    assert len(backtest) == 121 and backtest.keys() == served.keys()
    columns = json.loads((folder / "policies" / "AAPL" / "fold_0" / "observation.json").read_text())["columns"]
    count = columns.index("news_count")
    for when, (row, action) in backtest.items():
        np.testing.assert_array_equal(row, served[when][0])
        assert action == served[when][1] or (np.isnan(action) and np.isnan(served[when][1]))
        # the row holds the news the bar had in training (its news_count column from news_to_bars)
        assert row[count] == market.bars["AAPL"].loc[when, "news_count"]
    assert sum(r[count] > 0 for r, _ in backtest.values()) > 20  # the news is really in the observations
    # without the run context's columns (the strategy before it read them) the bars hold no news
    with pytest.raises(DataError, match="needs bar column"):
        _served_rows(spec, ohlcv, monkeypatch)


def test_a_news_item_published_after_a_bars_decision_never_changes_its_observation(news_policy):
    folder, market, articles = news_policy
    server = PolicyServer(folder, "AAPL")
    bars = market.bars["AAPL"][["open", "high", "low", "close", "volume"]]
    day = bars.index[-20]  # decision at 16:00 New York of that day
    live = LiveNews()
    live.backfill(articles)
    from autostock.context import join_bar_columns

    def row(news: LiveNews, upto: pd.Timestamp) -> np.ndarray:
        return server.market_row(join_bar_columns(bars.loc[:upto].iloc[-40:], news.columns, "AAPL"))

    before = {t: row(live, t) for t in bars.index[-21:-17]}
    late = day.tz_localize("America/New_York") + pd.Timedelta(hours=16)  # at the decision: too late for it
    live.on_news({"id": "late", "headline": GOOD[0], "symbols": ["AAPL"], "created_at": late.isoformat()})
    # streamed with a publish time before the decision but received after it: also too late
    live.on_news({"id": "slow", "headline": BAD[0], "symbols": ["AAPL"],
                  "created_at": (late - pd.Timedelta(minutes=5)).isoformat(),
                  "received_at": (late + pd.Timedelta(minutes=1)).isoformat()})  # fmt: skip
    count = server.builder.columns.index("news_count")
    for t in bars.index[-21:-19]:  # up to and including the decision bar: unchanged
        np.testing.assert_array_equal(row(live, t), before[t])
    nxt = bars.index[-19]
    assert row(live, nxt)[count] == before[nxt][count] + 2  # both count from the next bar on


def test_a_live_session_subscribes_news_for_an_rl_policy_trained_with_news(news_policy, tmp_path):
    folder, _, _ = news_policy
    names = served_features({"policy": str(folder)})
    assert {"logret_1", "news_count", "news_sentiment_sum_5"} <= set(names) and needs_news(names)
    assert not needs_news(served_features({"policy": str(tmp_path)}))  # no policy there: no news stream
