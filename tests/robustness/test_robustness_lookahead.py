"""The look-ahead and recursive-bias check: built-ins pass, a peek and a cold EMA are caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.config import RunSpec
from autostock.feeds.synthetic import generate_market
from autostock.robustness.lookahead import check_lookahead, perturbed

HERE = Path(__file__).resolve().parent / "lookahead_strategies.py"


@pytest.fixture(scope="module")
def market():
    return generate_market(["AAA"], "2016-01-01", "2019-12-31", seed=4)


@pytest.mark.parametrize(
    "strategy, params",
    [
        ("sma_cross", {}),
        ("rsi", {}),
        ("mean_reversion", {}),
        ("buy_hold", {}),
        ("momentum", {}),
        ("ml_signal", {"model": "ridge", "features": "ret_1,ret_5,ret_20", "walk_forward": "train=250,test=100"}),
        ("ensemble", {"members": "sma_cross:fast=5,slow=20;rsi"}),
    ],
)
def test_built_in_strategies_show_no_look_ahead_or_recursive_bias(market, strategy, params):
    report = check_lookahead(RunSpec(strategy=strategy, params=params, symbols=["AAA"]), market, cuts=2, history=300)
    assert report.lines_checked or strategy == "momentum"
    assert report.n_decisions > 0
    assert report.bias_found is False, report.to_dict()
    # a walk-forward model's prediction depends on its training history by design: look-ahead checked only
    by_design = [name for name in report.history_dependent_by_design if name.startswith("PredictorIndicator")]
    assert bool(by_design) is (strategy == "ml_signal")


def test_a_strategy_peeking_at_the_next_close_is_caught(market):
    report = check_lookahead(RunSpec(strategy=f"{HERE}:PeekNextClose", symbols=["AAA"]), market, cuts=2)
    assert report.bias_found is True
    perturbed_hits = [f for f in report.lookahead if f.check == "perturbed" and f.item == "orders"]
    assert len(perturbed_hits) == 2  # at both cuts the decision on the cut bar changed
    assert report.recursive == []


def test_an_insufficiently_warmed_ema_is_flagged_recursive_with_the_bars_it_needs(market):
    report = check_lookahead(RunSpec(strategy=f"{HERE}:ColdEMA", symbols=["AAA"]), market, cuts=2, history=300)
    assert report.lookahead == []  # it is causal ...
    assert [r["line"] for r in report.recursive] == ["RawEMA#0.ema"]  # ... but depends on its start
    needs = report.recursive[0]["bars_to_stabilise"]
    assert needs is not None and needs > 300
    # with enough history the same strategy passes
    assert (
        check_lookahead(
            RunSpec(strategy=f"{HERE}:ColdEMA", symbols=["AAA"]), market, cuts=2, history=needs + 1
        ).recursive
        == []
    )


def test_perturbation_reverses_every_move_after_the_cut_and_keeps_earlier_bars(market):
    cut = market.dates()[500]
    moved = perturbed(market, cut, seed=1)
    before, after = market.bars["AAA"], moved.bars["AAA"]
    assert after.loc[:cut].equals(before.loc[:cut])
    up = before["close"].diff().loc[cut:].iloc[1:] > 0
    assert ((after["close"].diff().loc[cut:].iloc[1:] > 0) != up).all()
    assert (after["low"] <= after[["open", "close"]].min(axis=1)).all()
    assert (after["high"] >= after[["open", "close"]].max(axis=1)).all()


def test_cli_exits_1_on_bias_0_without_and_writes_a_json_report(tmp_path):
    data = ["--data", "synthetic", "--symbols", "AAPL", "--start", "2017-01-01", "--end", "2019-12-31", "--seed", "3"]
    res = CliRunner().invoke(
        cli, ["lookahead", "--strategy", f"{HERE}:PeekNextClose", *data, "--cuts", "2", "--out", str(tmp_path / "peek")]
    )
    assert res.exit_code == 1, res.output
    assert "LOOK-AHEAD (perturbed" in res.output and "bias found" in res.output
    saved = json.loads((tmp_path / "peek" / "lookahead.json").read_text())
    assert saved["bias_found"] is True and saved["lookahead_bias"][0]["kind"] == "look-ahead"
    res = CliRunner().invoke(
        cli, ["lookahead", "--strategy", "sma_cross", *data, "--cuts", "2", "--out", str(tmp_path / "sma")]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "sma" / "lookahead.json").read_text())["bias_found"] is False
