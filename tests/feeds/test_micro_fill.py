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
