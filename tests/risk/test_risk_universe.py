"""The symbol universe, its selectors and sector caps; the risk settings and CLI options."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from autostock import universe as uni
from autostock.errors import ConfigError
from autostock.risk.settings import parse_risk


def test_universe_has_at_least_65_symbols_across_sectors_with_tiers():
    assets = uni.load_universe()
    assert len(assets) >= 65
    assert len({a.symbol for a in assets}) == len(assets)
    for sector in ("Technology", "Healthcare", "Financials", "Consumer", "Energy", "Industrials", "Utilities", "ETF"):
        assert sector in uni.sectors()
    assert {"SPY", "QQQ", "IWM"} <= {a.symbol for a in assets if a.sector == "ETF"}
    assert {a.volatility for a in assets} == set(uni.VOLATILITY_TIERS)
    assert {a.risk_tier for a in assets} == set(uni.RISK_TIERS)


def test_selector_filters_by_tier_and_caps_the_count_round_robin_across_sectors():
    picked = uni.select("tier=safe,max=20")
    table = uni.by_symbol()
    assert len(picked) == 20
    assert all(table[s].risk_tier == "safe" for s in picked)
    sectors = [table[s].sector for s in picked]
    assert len(set(sectors)) >= 8  # diversified, not the first 20 rows
    assert uni.select("sector=technology") == [a.symbol for a in uni.load_universe() if a.sector == "Technology"]
    both = uni.select("sector=Technology+Healthcare,vol=Low")
    assert both and all(table[s].sector in ("Technology", "Healthcare") and table[s].volatility == "Low" for s in both)
    assert len(uni.select("all")) == len(uni.load_universe())


def test_symbols_text_accepts_tickers_or_a_selector():
    assert uni.parse_symbols("aapl, msft") == ["AAPL", "MSFT"]
    assert uni.parse_symbols("tier=safe,max=20") == uni.select("tier=safe,max=20")
    assert uni.parse_symbols("universe:sector=Energy") == uni.select("sector=Energy")
    assert len(uni.parse_symbols("universe")) == len(uni.load_universe())
    assert uni.parse_symbols("ALL") == ["ALL"]  # Allstate, not the whole universe


@pytest.mark.parametrize(
    "text, message",
    [
        ("sector=Crypto", "unknown sector 'Crypto'"),
        ("tier=yolo", "unknown risk tier"),
        ("max=zero", "not an integer"),
        ("colour=red", "bad universe selector part"),
        ("", "empty universe selector"),
    ],
)
def test_bad_selector_raises_one_line_naming_the_value(text, message):
    with pytest.raises(ConfigError, match=message):
        uni.select(text)


def test_sector_caps_default_and_overridable():
    caps = uni.sector_caps()
    assert caps["Technology"] == 0.30 and caps["Healthcare"] == 0.20 and caps["Financials"] == 0.20
    assert caps["ETF"] == 0.15 and uni.cap_for("Energy", caps) == 0.15
    caps = uni.sector_caps({"technology": 0.25, "Others": 0.1})
    assert caps["Technology"] == 0.25 and uni.cap_for("Utilities", caps) == 0.1
    with pytest.raises(ConfigError, match="sector cap for 'Energy'"):
        uni.sector_caps({"Energy": 1.5})


def test_sectors_for_feeds_the_synthetic_factor_structure():
    from autostock.feeds.synthetic import generate_market

    symbols = ["AAPL", "MSFT", "NVDA", "XOM", "CVX", "SLB"]
    mapping = uni.sectors_for(symbols + ["ZZZZ"])
    assert "ZZZZ" not in mapping and mapping["XOM"] == "Energy"
    market = generate_market(symbols, "2020-01-01", "2021-12-31", seed=3, sectors=mapping)
    assert market.sectors == mapping
    rets = {s: market.bars[s]["close"].pct_change().dropna() for s in symbols}
    import numpy as np

    within = np.mean([rets["XOM"].corr(rets["CVX"]), rets["XOM"].corr(rets["SLB"]), rets["AAPL"].corr(rets["NVDA"])])
    across = np.mean([rets["XOM"].corr(rets["AAPL"]), rets["CVX"].corr(rets["MSFT"]), rets["SLB"].corr(rets["NVDA"])])
    assert within > across  # same-sector symbols share a sector factor


def test_risk_settings_validate_with_clear_errors():
    s = parse_risk({"stop_loss": 0.05, "sector_caps": True, "max_drawdown": 0.15, "cool_off": 10})
    assert s.stop_loss == 0.05 and s.sector_caps["Technology"] == 0.30 and s.max_leverage == 1.0
    assert s.correlation_limit == 0.8
    assert parse_risk({"correlation_limit": "off"}).correlation_limit is None
    assert parse_risk({"stop_loss": 0.05, "strategies": {"rsi": {"stop_loss": 0.02}}}, strategy="rsi").stop_loss == 0.02
    assert parse_risk({}, strategy="x", strategy_defaults={"take_profit": 0.2}).take_profit == 0.2
    for bad, message in [
        ({"stop_loss": 1.5}, "stop_loss=1.5"),
        ({"stop_los": 0.1}, "unknown risk setting"),
        ({"max_leverage": "lots"}, "not a number"),
        ({"cool_off": 5}, "needs max_drawdown"),
        ({"correlation_action": "shout"}, "refuse or reduce"),
        ({"max_position_weight": 2.0}, "exceeds max_leverage"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_risk(bad)


def test_risk_options_build_the_risk_table_and_universe_symbols():
    from autostock.commands.risk import risk_settings_from_options, risk_spec_changes

    changes = risk_spec_changes(
        universe="tier=ETF,max=3",
        stop_loss=0.05,
        take_profit=None,
        max_drawdown=0.2,
        sector_cap=("Technology=0.25",),
        correlation_limit="off",
        strategy="momentum",
    )
    assert changes["symbols"] == uni.select("tier=ETF,max=3")
    assert changes["risk"] == {
        "stop_loss": 0.05,
        "max_drawdown": 0.2,
        "sector_caps": {"Technology": 0.25},
        "correlation_limit": "off",
    }
    assert risk_settings_from_options(sector_caps=True) == {"sector_caps": True}
    assert risk_settings_from_options() == {}
    from autostock.config import build_spec

    with pytest.raises(ConfigError, match="stop_loss"):  # validated once, where the spec is built
        build_spec(risk=risk_settings_from_options(stop_loss=-0.1))
    with pytest.raises(ConfigError, match="either --symbols or --universe"):
        risk_spec_changes(universe="all", symbols="AAPL")


def test_universe_command_lists_symbols_with_sectors_and_tiers_filtered():
    from autostock.cli import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["universe", "--sector", "Energy"])
    assert res.exit_code == 0, res.output
    assert "XOM" in res.output and "Energy" in res.output and "AAPL" not in res.output
    res = runner.invoke(cli, ["universe", "--select", "tier=safe,max=5", "--symbols-only"])
    assert res.exit_code == 0 and res.output.strip() == ",".join(uni.select("tier=safe,max=5"))
    res = runner.invoke(cli, ["universe", "--tier", "reckless"])
    assert res.exit_code == 2 and "unknown risk tier 'reckless'" in res.output


def test_risk_options_decorator_parses_flags_into_spec_changes():
    import json

    import click

    from autostock.commands.risk import risk_options, risk_spec_changes

    @click.command()
    @risk_options
    def probe(**kw):
        click.echo(json.dumps(risk_spec_changes(**kw), sort_keys=True))

    runner = CliRunner()
    res = runner.invoke(
        probe,
        [
            "--universe",
            "sector=Utilities",
            "--stop-loss",
            "0.05",
            "--take-profit",
            "0.1",
            "--trailing-stop",
            "0.04",
            "--max-drawdown",
            "0.15",
            "--cool-off",
            "5",
            "--max-leverage",
            "1.5",
            "--max-position",
            "0.2",
            "--sector-cap",
            "ETF=0.1",
            "--correlation-limit",
            "0.7",
            "--correlation-window",
            "40",
            "--correlation-action",
            "reduce",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {
        "risk": {
            "stop_loss": 0.05,
            "take_profit": 0.1,
            "trailing_stop": 0.04,
            "max_drawdown": 0.15,
            "cool_off": 5,
            "max_leverage": 1.5,
            "max_position_weight": 0.2,
            "sector_caps": {"ETF": 0.1},
            "correlation_limit": 0.7,
            "correlation_window": 40,
            "correlation_action": "reduce",
        },
        "symbols": uni.select("sector=Utilities"),
    }
    assert json.loads(runner.invoke(probe, []).output) == {}
    assert json.loads(runner.invoke(probe, ["--sector-caps"]).output) == {"risk": {"sector_caps": True}}
