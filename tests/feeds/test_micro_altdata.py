"""News and option snapshots: file shapes, VADER scoring, and point-in-time aggregation onto bars."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autostock.errors import DataError
from autostock.feeds import load_market
from autostock.feeds.news import decision_times, news_to_bars, read_news, tidy_news
from autostock.feeds.options import (
    options_to_bars,
    parse_occ,
    read_snapshots,
    tidy_snapshots,
)
from autostock.models.features import compute_features

DAYS = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"])


def _article(t: str, headline: str, sym: str = "AAPL") -> dict:
    return {
        "id": 1,
        "headline": headline,
        "summary": "",
        "symbols": [sym],
        "created_at": t,
        "author": "x",
        "updated_at": t,
        "url": "https://example.com",
        "images": [],
        "source": "benzinga",
        "content": "",
    }


def test_daily_bars_decide_at_the_close_and_intraday_bars_at_their_stamp():
    assert decision_times(DAYS)[0] == pd.Timestamp("2024-01-02 16:00")
    intraday = pd.DatetimeIndex(["2024-01-02 09:35"])
    assert decision_times(intraday)[0] == intraday[0]


def test_article_published_after_the_decision_time_never_affects_that_bar():
    before = _article("2024-01-02T20:59:00Z", "AAPL shares surge after record profit")  # 15:59 New York
    at_close = _article("2024-01-02T21:00:00Z", "AAPL plunges on fraud probe")  # 16:00: too late for Jan 2
    news = tidy_news([before, at_close], "test")
    bars = news_to_bars(news, "AAPL", DAYS)
    assert bars["news_count"].tolist() == [1, 1, 0]
    assert bars["news_sentiment"].iloc[0] > 0.3 and bars["news_sentiment"].iloc[1] < -0.3
    # adding any later article leaves earlier bars unchanged
    later = tidy_news([before, at_close, _article("2024-01-03T15:00:00Z", "AAPL crashes, awful losses")], "test")
    pd.testing.assert_frame_equal(news_to_bars(later, "AAPL", DAYS).iloc[:1], bars.iloc[:1])


def test_news_for_other_symbols_is_ignored_and_novelty_drops_for_a_repeated_headline():
    news = tidy_news(
        [
            _article("2024-01-02T15:00:00Z", "AAPL wins big contract"),
            _article("2024-01-02T15:05:00Z", "AAPL wins big contract"),
            _article("2024-01-02T15:06:00Z", "MSFT wins big contract", "MSFT"),
        ],
        "t",
    )
    bars = news_to_bars(news, "AAPL", DAYS)
    assert bars["news_count"].iloc[0] == 2
    assert bars["news_novelty"].iloc[0] == pytest.approx(0.5)  # 1 for the first, 0 for the copy


def test_local_news_json_in_alpacas_shape_and_csv_load_the_same(tmp_path):
    recs = [_article("2024-01-02T15:00:00Z", "AAPL beats estimates")]
    (tmp_path / "n.json").write_text(json.dumps({"news": recs}))
    pd.DataFrame([{**recs[0], "symbols": "AAPL"}]).to_csv(tmp_path / "n.csv", index=False)
    a, b = read_news(tmp_path / "n.json"), read_news(tmp_path / "n.csv")
    assert a["headline"].tolist() == b["headline"].tolist() and a["created_at"].equals(b["created_at"])
    assert a["symbols"].iloc[0] == ["AAPL"]


def test_news_record_without_a_headline_names_the_record(tmp_path):
    (tmp_path / "n.json").write_text(
        json.dumps([_article("2024-01-02T15:00:00Z", "ok"), _article("2024-01-02T15:00:00Z", " ")])
    )
    with pytest.raises(DataError, match="record 2: empty headline"):
        read_news(tmp_path / "n.json")


def _snapshot(as_of: str, put_vol: float, call_vol: float) -> list[dict]:
    rows = []
    for typ, vol, delta, iv in (("put", put_vol, -0.25, 0.35), ("call", call_vol, 0.25, 0.30)):
        strike = 95.0 if typ == "put" else 105.0
        rows.append(
            {
                "as_of": as_of,
                "underlying": "AAPL",
                "type": typ,
                "strike": strike,
                "expiration": "2024-02-16",
                "iv": iv,
                "delta": delta,
                "volume": vol,
                "open_interest": 1000,
            }
        )
    return rows


def test_option_snapshot_taken_after_the_decision_time_never_affects_that_bar():
    snaps = tidy_snapshots(
        pd.DataFrame(_snapshot("2024-01-02 15:30", 300, 100) + _snapshot("2024-01-02 16:00", 900, 100)), "t"
    )
    bars = options_to_bars(snaps, "AAPL", DAYS)
    assert bars["opt_pc_volume"].iloc[0] == pytest.approx(3.0)  # the 16:00 one counts for Jan 3
    assert bars["opt_pc_volume"].iloc[1] == pytest.approx(9.0)
    assert np.isnan(bars["opt_pc_volume"].iloc[2])  # no snapshot: NaN, not a stale copy
    assert bars["opt_iv_skew"].iloc[0] == pytest.approx(0.05)
    assert bars["opt_volume_oi"].iloc[0] == pytest.approx(400 / 2000)


def test_of_several_snapshots_before_a_decision_the_newest_counts():
    snaps = tidy_snapshots(
        pd.DataFrame(_snapshot("2024-01-02 10:00", 100, 100) + _snapshot("2024-01-02 15:00", 200, 100)), "t"
    )
    assert options_to_bars(snaps, "AAPL", DAYS)["opt_pc_volume"].iloc[0] == pytest.approx(2.0)


def test_occ_symbols_give_type_strike_and_expiry_and_bad_rows_are_named(tmp_path):
    assert parse_occ("AAPL240119C00190000") == ("AAPL", pd.Timestamp("2024-01-19"), "call", 190.0)
    path = tmp_path / "o.csv"
    path.write_text(
        "as_of,symbol,underlying,volume,open_interest,iv\n"
        "2024-01-02 15:00,AAPL240119C00190000,AAPL,10,100,0.3\n"
        "2024-01-02 15:00,AAPL240119P00180000,AAPL,-5,100,0.3\n"
    )
    with pytest.raises(DataError, match="row 3: volume must be a finite non-negative number"):
        read_snapshots(path)


def test_news_and_options_attach_to_any_source_and_feed_their_feature_groups(tmp_path):
    (tmp_path / "n.json").write_text(json.dumps([_article("2020-03-02T15:00:00Z", "AAPL soars on great results")]))
    pd.DataFrame(_snapshot("2020-03-02 15:00", 300, 100)).to_csv(tmp_path / "o.csv", index=False)
    m = load_market(
        f"synthetic+news:{tmp_path / 'n.json'}+options:{tmp_path / 'o.csv'}", ["AAPL"], "2020-01-01", "2020-06-30"
    )
    bars = m.bars["AAPL"]
    assert bars.loc["2020-03-02", "news_count"] == 1 and bars["news_count"].sum() == 1
    f = compute_features(bars, "news_sentiment,opt_pc_volume")
    assert f.loc["2020-03-02", "news_sentiment"] > 0.5 and f.loc["2020-02-28", "news_sentiment"] == 0
    assert f.loc["2020-03-02", "opt_pc_volume"] == pytest.approx(np.log(3.0))
    assert np.isnan(f.loc["2020-02-28", "opt_pc_volume"])


def test_missing_vader_is_one_line_naming_the_altdata_extra(monkeypatch):
    import sys

    from autostock.errors import UserError
    from autostock.feeds.news import sentiment_scores

    monkeypatch.setitem(sys.modules, "vaderSentiment", None)
    monkeypatch.setitem(sys.modules, "vaderSentiment.vaderSentiment", None)
    with pytest.raises(UserError, match=r"autostock\[altdata\]"):
        sentiment_scores(["AAPL beats"])


def test_micro_synthetic_is_reproducible_per_seed_and_symbol():
    from autostock.feeds.synthetic_micro import generate_micro

    a, b, c = generate_micro("AAA", 50, 1), generate_micro("AAA", 50, 1), generate_micro("AAA", 50, 2)
    pd.testing.assert_frame_equal(a.trades, b.trades)
    pd.testing.assert_frame_equal(a.options, b.options)
    assert not a.trades["price"].equals(c.trades["price"])


def test_sectors_without_a_benchmark_is_a_data_error(tmp_path):
    bars = load_market("synthetic", ["AAPL"], "2020-01-01", "2020-03-31").bars["AAPL"]
    bars.rename_axis("Date").to_csv(tmp_path / "AAPL.csv")
    with pytest.raises(DataError, match=r"\+sectors needs a benchmark"):
        load_market(f"{tmp_path / 'AAPL.csv'}+sectors")


def test_equal_weight_benchmark_is_the_causal_basket_of_the_loaded_symbols(tmp_path):
    market = load_market("synthetic", ["AAPL", "XOM"], "2020-01-01", "2020-06-30", "SPY", 3)
    for sym, df in market.bars.items():
        df.iloc[(20 if sym == "XOM" else 0) :].to_csv(tmp_path / f"{sym}.csv")  # XOM starts later
    m = load_market(f"{tmp_path}+sectors", None, None, None, "equal-weight")
    assert m.benchmark_symbol == "EQUAL_WEIGHT" and any("equal-weight basket" in n for n in m.notes)
    closes = pd.DataFrame({s: df["close"] for s, df in m.bars.items()})
    logret = np.log(closes).diff().mean(axis=1)  # the mean over the symbols trading on both bars
    want = np.exp(logret.fillna(0.0).cumsum())
    np.testing.assert_allclose(m.benchmark.to_numpy(), want.to_numpy(), rtol=1e-12)
    assert m.bars["AAPL"]["sector_bm_close"].iloc[5] == pytest.approx(want.iloc[5])
    # causal: the basket up to a date is the same when later bars are cut off
    cut = load_market(f"{tmp_path}+sectors", None, None, "2020-03-31", "equal-weight")
    pd.testing.assert_series_equal(cut.benchmark, m.benchmark.loc[:"2020-03-31"])
    plain = load_market(str(tmp_path), None, None, None, "Equal-Weight")  # any source, any case
    pd.testing.assert_series_equal(plain.benchmark, m.benchmark)
