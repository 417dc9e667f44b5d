"""Quote-aware fills: market orders fill at the next quote's ask (buy) / bid (sell), optional impact."""

from __future__ import annotations

import backtrader as bt
import pandas as pd
import pytest

from autostock.config import build_spec
from autostock.engine import run_backtest
from autostock.feeds.btfeed import FrameFeed
from autostock.feeds.synthetic_micro import generate_micro_market
from autostock.quote_fill import QuoteBroker, QuoteFrameFeed


@pytest.fixture(scope="module")
def market():
    return generate_micro_market(["SYN"], n_bars=200, seed=4)


def _orders(market, **spec_kw):
    spec = build_spec(None, strategy="buy_hold", symbols=["SYN"], **spec_kw)
    return run_backtest(spec, market).orders


def test_market_buy_fills_at_the_ask_of_the_first_quote_after_the_decision(market):
    orders = _orders(market, spread_bps=50.0)
    bars = market.bars["SYN"]
    first = orders[orders["status"] == "Completed"].iloc[0]
    fill_bar = bars.index[bars.index.get_loc(pd.Timestamp(first["created"])) + 1]
    assert first["side"] == "buy"
    # the flat 50 bps spread is not charged on top of the quote
    assert first["exec_price"] == pytest.approx(bars.loc[fill_bar, "open_ask"])
    assert first["exec_price"] != pytest.approx(bars.loc[fill_bar, "open"])


class _RoundTrip(bt.Strategy):
    def next(self):
        if len(self) == 1:
            self.buy(size=500)
        elif len(self) == 3:
            self.sell(size=500)


def _round_trip(bars: pd.DataFrame, impact: float) -> list[tuple[str, float]]:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.setbroker(QuoteBroker(impact=impact))
    cerebro.broker.setcash(1e6)
    cerebro.adddata(QuoteFrameFeed(dataname=bars))
    cerebro.addstrategy(_RoundTrip)
    fills: list[tuple[str, float]] = []
    strat = cerebro.run()[0]
    for order in strat.broker.orders:
        fills.append(("buy" if order.isbuy() else "sell", order.executed.price))
    return fills


def test_sell_fills_at_the_bid_and_impact_grows_with_size_over_quoted_depth(market):
    bars = market.bars["SYN"].iloc[:10]
    plain = _round_trip(bars, 0.0)
    assert plain == [
        ("buy", pytest.approx(bars["open_ask"].iloc[1])),
        ("sell", pytest.approx(bars["open_bid"].iloc[3])),
    ]
    hit = _round_trip(bars, 0.01)
    assert hit[0][1] == pytest.approx(bars["open_ask"].iloc[1] * (1 + 0.01 * 500 / bars["open_ask_size"].iloc[1]))
    assert hit[1][1] == pytest.approx(bars["open_bid"].iloc[3] * (1 - 0.01 * 500 / bars["open_bid_size"].iloc[3]))


def test_bars_without_quotes_keep_the_open_price_fill(market):
    bars = market.bars["SYN"].iloc[:10][["open", "high", "low", "close", "volume"]]
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.setbroker(QuoteBroker())
    cerebro.broker.setcash(1e6)
    cerebro.adddata(FrameFeed(dataname=bars))
    cerebro.addstrategy(_RoundTrip)
    strat = cerebro.run()[0]
    assert strat.broker.orders[0].executed.price == pytest.approx(bars["open"].iloc[1])


def test_quote_impact_setting_moves_the_fill_by_size_over_quoted_depth(market):
    bars = market.bars["SYN"]
    half = {"sizer_params": {"percent": 50}}  # room in cash for the impact
    plain = _orders(market, **half)
    hit = _orders(market, quote_impact=0.002, **half)
    p0, p1 = (o[o["status"] == "Completed"].iloc[0] for o in (plain, hit))
    fill_bar = bars.index[bars.index.get_loc(pd.Timestamp(p1["created"])) + 1]
    ask, depth = bars.loc[fill_bar, "open_ask"], bars.loc[fill_bar, "open_ask_size"]
    assert p0["exec_price"] == pytest.approx(ask)
    assert p1["exec_price"] == pytest.approx(ask * (1 + 0.002 * abs(p1["size"]) / depth))
    assert p1["exec_price"] > p0["exec_price"]


def test_quote_impact_reads_the_same_from_flag_toml_and_environment(tmp_path, monkeypatch):
    from autostock.config import env_settings

    cfg = tmp_path / "run.toml"
    cfg.write_text("quote_impact = 0.05\n")
    assert build_spec(str(cfg)).quote_impact == 0.05
    assert env_settings({"AUTOSTOCK_QUOTE_IMPACT": "0.05"}) == {"quote_impact": 0.05}
    assert build_spec(None, quote_impact="0.05").quote_impact == 0.05
    monkeypatch.setenv("AUTOSTOCK_QUOTE_IMPACT", "0.03")
    assert build_spec(str(cfg)).quote_impact == 0.03  # env over TOML
    assert build_spec(str(cfg), quote_impact=0.01).quote_impact == 0.01  # flag over env


@pytest.mark.parametrize(
    "args, env, needle",
    [
        (["--quote-impact", "-0.1"], None, "quote_impact must be >= 0, got -0.1"),
        (["--quote-impact", "nan"], None, "quote_impact must be a finite number"),
        ([], {"AUTOSTOCK_QUOTE_IMPACT": "big"}, "AUTOSTOCK_QUOTE_IMPACT: quote_impact='big': expected a number"),
    ],
)
def test_bad_quote_impact_is_one_line_and_exit_2(tmp_path, args, env, needle):
    from click.testing import CliRunner

    from autostock.cli import cli

    out = tmp_path / "o"
    res = CliRunner().invoke(
        cli, ["backtest", "--data", "micro-synthetic", "--no-tearsheet", "--out", str(out), *args], env=env
    )
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: ") and res.output.count("\n") == 1 and needle in res.output, res.output
    assert not out.exists()


def test_backtest_cli_quote_impact_is_reported_and_charged(tmp_path):
    import json

    from click.testing import CliRunner

    from autostock.cli import cli

    prices = {}
    for k in ("0", "0.002"):
        out = tmp_path / k
        res = CliRunner().invoke(
            cli,
            ["backtest", "-s", "buy_hold", "--data", "micro-synthetic", "--symbols", "SYN", "--quote-impact", k]
            + ["--sizer-param", "percent=50"]
            + ["--no-tearsheet", "--no-pyfolio", "--out", str(out)],
        )
        assert res.exit_code == 0, res.output
        summary = json.loads((out / "summary.json").read_text())
        assert summary["costs"]["quote_impact"] == float(k)
        orders = pd.read_csv(out / "orders.csv")
        prices[k] = orders.loc[orders["status"] == "Completed", "exec_price"].iloc[0]
    assert prices["0.002"] > prices["0"]
