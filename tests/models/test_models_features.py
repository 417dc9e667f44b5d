"""Features: >= 150 named causal features, sets, errors, the regime rule and its indicator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autostock.errors import ConfigError, DataError
from autostock.indicators.regime import MarketRegime
from autostock.models.features import FEATURE_SETS, FEATURES, compute_features, feature_names, resolve_features
from autostock.models.regime import RegimeRule, regime_code_last, regime_codes, regime_label
from tests.btprobe import line_values
from tests.models.ml_data import market

# the OHLCV + reference features; data groups (quotes, trades, news, ...) are truncation-tested
# in tests/models/test_features_micro.py on data that carries their columns
BAR_FEATURES = [f.name for f in FEATURES.values() if f.group in FEATURE_SETS["full"]]  # registration order


def _full(n: int | None = None) -> pd.DataFrame:
    m = market()
    cut = slice(None, n)
    return compute_features(m.bars["AAPL"].iloc[cut], "full", m.bars["QQQ"]["close"].iloc[cut], m.benchmark.iloc[cut])


def test_full_set_has_at_least_150_named_features_and_single_asset_sets_too():
    assert len(FEATURES) >= 150
    assert len(feature_names("technical")) >= 150  # OHLCV alone, no reference series needed
    assert set(feature_names("basic")) < set(feature_names("technical")) < set(feature_names("full"))
    assert feature_names("full") == BAR_FEATURES


def test_every_feature_at_bar_t_is_identical_on_data_up_to_t_and_on_the_whole_series():
    whole = _full()
    assert list(whole.columns) == BAR_FEATURES
    for t in (330, 470, len(whole) - 2):
        part = _full(t + 1)
        row_whole, row_part = whole.iloc[t].to_numpy(), part.iloc[t].to_numpy()
        # not vacuous: at these bars every feature is past its warm-up
        assert np.isfinite(row_whole).all(), [c for c, v in zip(whole.columns, row_whole) if not np.isfinite(v)]
        np.testing.assert_allclose(row_part, row_whole, rtol=1e-10, atol=1e-12, err_msg=f"look-ahead at bar {t}")
        # earlier rows too
        pd.testing.assert_frame_equal(part.iloc[: t + 1], whole.iloc[: t + 1], rtol=1e-10, atol=1e-12)


def test_named_set_omits_cross_asset_features_without_their_reference_and_says_which():
    bars = market().bars["AAPL"]
    out = compute_features(bars, "full")
    assert not any(c.startswith(("idx_", "bm_")) for c in out.columns)
    assert out.attrs["omitted"] and all(n.startswith(("idx_", "bm_")) for n in out.attrs["omitted"])


def test_comma_list_of_names_and_groups_keeps_the_order_given():
    names, _ = resolve_features("rsi_14,calendar,ret_1", True, True)
    assert names[0] == "rsi_14" and names[-1] == "ret_1" and "day_of_week" in names


def test_unknown_feature_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="rsi_999"):
        resolve_features("rsi_14,rsi_999", True, True)


def test_asking_for_an_index_feature_without_the_index_is_a_data_error():
    with pytest.raises(DataError, match="idx_beta_60"):
        compute_features(market().bars["AAPL"], "idx_beta_60")


def test_feature_values_match_hand_computed_formulas():
    bars = market().bars["AAPL"]
    f = compute_features(bars, "ret_5,close_sma_20,rsi_14,gap")
    c = bars["close"]
    assert f["ret_5"].iloc[100] == pytest.approx(c.iloc[100] / c.iloc[95] - 1)
    assert f["close_sma_20"].iloc[100] == pytest.approx(c.iloc[100] / c.iloc[81:101].mean() - 1)
    assert f["gap"].iloc[100] == pytest.approx(bars["open"].iloc[100] / c.iloc[99] - 1)
    assert f["rsi_14"].dropna().between(0, 100).all() and f["rsi_14"].notna().sum() > 500


def test_feature_sets_are_the_documented_ones():
    assert set(FEATURE_SETS) == {"basic", "technical", "full"}


# -- regime ----------------------------------------------------------------------------------
def _trend(n: int, drift: float, vol: float = 0.005, seed: int = 1) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(
        100 * np.exp(np.cumsum(drift + vol * rng.standard_normal(n))), index=pd.bdate_range("2010-01-01", periods=n)
    )


def test_regime_is_bull_in_a_steady_rise_bear_in_a_steady_fall_and_sideways_when_flat():
    assert regime_label(_trend(400, 0.002)).iloc[-1] == "bull"
    assert regime_label(_trend(400, -0.002)).iloc[-1] == "bear"
    assert regime_label(_trend(400, 0.0, vol=0.002)).iloc[-1] == "sideways"
    codes = regime_codes(_trend(400, 0.001))
    assert np.isnan(codes[: RegimeRule().warmup - 1]).all() and np.isfinite(codes[RegimeRule().warmup :]).all()


def test_regime_of_the_last_bar_alone_agrees_with_the_vectorised_labels():
    close = market().bars["MSFT"]["close"]
    codes = regime_codes(close)
    for t in range(RegimeRule().warmup, len(close), 37):
        assert regime_code_last(close.to_numpy()[: t + 1]) == codes[t]


def test_regime_rule_rejects_fast_not_shorter_than_slow():
    with pytest.raises(ConfigError, match="fast"):
        RegimeRule(fast=200, slow=100)


def _indicator_values(df: pd.DataFrame, runonce: bool) -> np.ndarray:
    return line_values(df, lambda data: MarketRegime(data).regime, runonce)


def test_regime_indicator_agrees_in_both_backtrader_modes_and_with_the_feature():
    bars = market().bars["AAPL"]
    batch, stepwise = _indicator_values(bars, True), _indicator_values(bars, False)
    expected = regime_codes(bars["close"])[RegimeRule().warmup - 1 :]
    np.testing.assert_array_equal(batch, stepwise)
    np.testing.assert_array_equal(batch, expected)
    assert set(np.unique(batch)) <= {-1.0, 0.0, 1.0} and len(np.unique(batch)) >= 2
