"""Microstructure and alt-data feature groups: truncation (no look-ahead), formulas, planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autostock.errors import DataError
from autostock.feeds import load_market
from autostock.feeds.synthetic_micro import generate_micro_market
from autostock.models.features import (
    DATA_GROUPS,
    FEATURES,
    compute_features,
    resolve_features,
)
from autostock.models.features_micro import microprice, volume_profile

MICRO_GROUPS = "quotes,trades,volume_profile,news,options"


@pytest.fixture(scope="module")
def micro_bars() -> pd.DataFrame:
    return generate_micro_market(["SYN"], n_bars=520, seed=3).bars["SYN"]


def test_every_data_group_is_registered_in_the_one_feature_registry():
    assert set(DATA_GROUPS) >= {"quotes", "trades", "volume_profile", "news", "options", "sector"}
    for group in DATA_GROUPS:
        assert sum(f.group == group for f in FEATURES.values()) >= 5, group


def test_every_micro_and_news_and_options_feature_at_bar_t_is_identical_on_data_up_to_t(micro_bars):
    whole = compute_features(micro_bars, MICRO_GROUPS)
    assert len(whole.columns) == sum(FEATURES[n].group in MICRO_GROUPS.split(",") for n in FEATURES)
    for t in (150, 333, len(whole) - 2):
        part = compute_features(micro_bars.iloc[: t + 1], MICRO_GROUPS)
        row = whole.iloc[t].to_numpy()
        assert np.isfinite(row).all(), [c for c, v in zip(whole.columns, row) if not np.isfinite(v)]
        pd.testing.assert_frame_equal(part, whole.iloc[: t + 1], rtol=1e-10, atol=1e-12)


def test_every_sector_feature_at_bar_t_is_identical_on_data_up_to_t():
    syms = ["AAPL", "MSFT", "JPM", "XOM", "JNJ"]
    market = load_market("synthetic+sectors", syms, "2016-01-01", "2018-12-31", "SPY", 5)
    bars = market.bars["AAPL"]
    whole = compute_features(bars, "sector")
    t = 400
    # the sector columns of the truncated market come from truncated inputs too
    cut = load_market("synthetic+sectors", syms, "2016-01-01", str(bars.index[t].date()), "SPY", 5)
    part = compute_features(cut.bars["AAPL"], "sector")
    assert np.isfinite(whole.iloc[t].to_numpy()).all()
    pd.testing.assert_frame_equal(part, whole.iloc[: t + 1], rtol=1e-10, atol=1e-12)
    ranks = whole["sector_rank_60"].dropna()
    assert set(np.round(ranks.unique(), 6)) <= {0.25, 0.5, 0.75, 1.0}  # four sectors ranked
    assert ranks.nunique() >= 3


def test_trade_features_on_plain_bars_are_a_data_error_naming_the_missing_columns():
    bars = load_market("synthetic", ["AAPL"], "2020-01-01", "2020-12-31").bars["AAPL"]
    with pytest.raises(DataError, match="buy_volume"):
        compute_features(bars, "basic,trades")
    # volume profile needs OHLCV only
    assert compute_features(bars, "volume_profile").iloc[-1].notna().all()


def test_a_named_set_may_appear_in_a_comma_list_with_data_groups():
    names, _ = resolve_features("basic,quotes", True, True)
    assert "ret_1" in names and "microprice_dev" in names


def test_microprice_and_quote_imbalance_match_hand_values():
    bid, ask = pd.Series([10.0]), pd.Series([10.2])
    bs, az = pd.Series([300.0]), pd.Series([100.0])
    assert microprice(bid, ask, bs, az).iloc[0] == pytest.approx((10.0 * 100 + 10.2 * 300) / 400)
    bars = pd.DataFrame(
        {
            "open": [10.1],
            "high": [10.1],
            "low": [10.1],
            "close": [10.1],
            "volume": [1.0],
            "bid": [10.0],
            "ask": [10.2],
            "bid_size": [300.0],
            "ask_size": [100.0],
            "spread_mean": [np.nan],
            "imbalance_mean": [np.nan],
            "ofi": [0.0],
        },
        index=pd.DatetimeIndex(["2024-01-02 10:00"]),
    )
    f = compute_features(bars, "quote_imbalance,quoted_spread,microprice_dev")
    assert f["quote_imbalance"].iloc[0] == pytest.approx(0.5)
    assert f["quoted_spread"].iloc[0] == pytest.approx(0.2 / 10.1)
    assert f["microprice_dev"].iloc[0] == pytest.approx(10.15 / 10.1 - 1)


def test_vpin_is_mean_absolute_order_imbalance_share_of_volume(micro_bars):
    f = compute_features(micro_bars, "vpin_20")
    b = micro_bars.iloc[100:120]
    expected = (b["buy_volume"] - b["sell_volume"]).abs().sum() / b["volume"].sum()
    assert f["vpin_20"].iloc[119] == pytest.approx(expected)


def test_volume_profile_puts_the_point_of_control_where_the_volume_is():
    price = np.array([10.0, 10.0, 11.0, 12.0, 10.0, 13.0])
    volume = np.array([100.0, 100.0, 1.0, 1.0, 100.0, 1.0])
    poc, vah, val = volume_profile(price, volume, 6, bins=6)
    assert np.isnan(poc[:5]).all()
    assert 10.0 <= poc[5] < 10.5  # the 10.0 bin holds 300 of 303
    assert val[5] == pytest.approx(10.0) and vah[5] == pytest.approx(10.5)  # 70% lies in that bin alone


def test_planted_order_flow_effect_is_visible_and_absent_in_the_null_control():
    def corr(effects: bool) -> float:
        bars = generate_micro_market(["SYN"], n_bars=1500, seed=11, effects=effects).bars["SYN"]
        f = compute_features(bars, "trade_imbalance")["trade_imbalance"]
        nxt = np.log(bars["close"]).diff().shift(-1)
        return float(f.corr(nxt))

    assert corr(True) > 0.1
    assert abs(corr(False)) < 0.06


def test_train_command_accepts_data_groups_by_name_and_records_their_features(tmp_path):
    import json

    from click.testing import CliRunner

    from autostock.cli import cli

    res = CliRunner().invoke(
        cli,
        [
            "train",
            "-m",
            "ridge",
            "--data",
            "micro-synthetic",
            "--features",
            "basic,trades,news",
            "--walk-forward",
            "train=500,test=250",
            "-q",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    params = json.loads((tmp_path / "params.json").read_text())
    assert {"vpin_20", "news_sentiment_sum_5", "ret_1"} <= set(params["features"])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    ab = metrics["ablation"]  # a data group in --features: the ablation is in metrics.json
    assert set(ab["groups"]) == {"trades", "news"}
    assert ab["all"] == metrics["pooled"]["model"]
    assert ab["price_only_features"] == sum(1 for f in params["features"] if FEATURES[f].group not in DATA_GROUPS)
    for g in ab["groups"].values():  # every variant is scored on the main model's bars
        assert g["price_plus_group"]["n"] == g["all_minus_group"]["n"] == ab["price_only"]["n"] == ab["all"]["n"]
        assert g["ic_gain"] == pytest.approx(g["price_plus_group"]["ic"] - ab["price_only"]["ic"])
    assert "ablation (pooled out-of-sample IC)" in res.output
    bad = CliRunner().invoke(
        cli,
        [
            "train",
            "-m",
            "ridge",
            "--data",
            "synthetic",
            "--symbols",
            "AAPL",
            "--features",
            "basic,quotes",
            "-q",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert bad.exit_code == 2 and "needs bar column(s) bid" in bad.output


def test_train_ablation_finds_the_planted_news_effect_and_not_the_null_options_group():
    from autostock.models.training import train
    from autostock.models.walkforward import parse_walk_forward

    # only the news tone moves the next bar; option flow is generated but carries nothing
    market = generate_micro_market(["SYN"], n_bars=1200, seed=3, effects={"news": 0.9})
    walk = parse_walk_forward("train=500,test=700")
    res = train(market, "ridge", "fwd_return_1", "basic,news,options", walk, {}, None, None, 42, None, None)
    ab = res.metrics["ablation"]
    news, options = ab["groups"]["news"], ab["groups"]["options"]
    assert ab["price_only"]["n"] == ab["all"]["n"] > 600
    assert news["ic_gain"] > 0.1 and news["ic_drop_without"] > 0.1
    assert abs(options["ic_gain"]) < 0.03 and abs(options["ic_drop_without"]) < 0.03
    # the same walk-forward as the main model: price-only + news + options is the main model
    assert ab["all"]["ic"] == pytest.approx(res.metrics["pooled"]["model"]["ic"])
    off = train(market, "ridge", "fwd_return_1", "basic,news", walk, {}, None, None, 42, None, None, ablate=False)
    assert "ablation" not in off.metrics
    price = train(market, "ridge", "fwd_return_1", "basic", walk, {}, None, None, 42, None, None)
    assert "ablation" not in price.metrics  # nothing to ablate without a data group
    assert price.metrics["pooled"]["model"] == ab["price_only"]  # price-only = the price features alone


def test_train_with_sector_on_a_folder_without_an_index_writes_the_sector_ablation(tmp_path):
    import json

    from click.testing import CliRunner

    from autostock.cli import cli

    # three symbols of two sectors as plain CSV files (no index series): the benchmark is their basket
    market = load_market("synthetic", ["AAPL", "MSFT", "XOM"], "2017-01-01", "2019-12-31", "SPY", 4)
    folder = tmp_path / "csv"
    folder.mkdir()
    for sym, df in market.bars.items():
        df.to_csv(folder / f"{sym}.csv")
    args = ["train", "-m", "ridge", "--data", f"{folder}+sectors", "--features", "basic,sector",
            "--target", "fwd_return_1", "--walk-forward", "train=300,test=200", "-q"]  # fmt: skip
    res = CliRunner().invoke(cli, [*args, "--benchmark", "equal-weight", "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    params = json.loads((tmp_path / "m" / "params.json").read_text())
    sector = [f for f in params["features"] if FEATURES[f].group == "sector"]
    assert "sector_rel_mom_20" in sector
    ab = json.loads((tmp_path / "m" / "metrics.json").read_text())["ablation"]
    assert set(ab["groups"]) == {"sector"} and ab["groups"]["sector"]["features"] == len(sector)
    g = ab["groups"]["sector"]
    assert g["price_plus_group"]["n"] == ab["price_only"]["n"] == ab["all"]["n"] > 1000  # three symbols pooled
    assert g["ic_gain"] == pytest.approx(g["price_plus_group"]["ic"] - ab["price_only"]["ic"])
    bad = CliRunner().invoke(cli, [*args, "--benchmark", "SPY", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "benchmark 'SPY' not found" in bad.output
