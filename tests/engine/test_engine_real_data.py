"""buy_hold on the real ORCL file returns the series' own total return."""

from __future__ import annotations

import pytest

from autostock.config import RunSpec
from autostock.engine import run_backtest
from autostock.feeds import load_market


def test_buy_hold_on_orcl_matches_the_series_total_return(shared_data) -> None:
    market = load_market(str(shared_data / "orcl-1995-2014.csv"), symbols=["ORCL"])
    result = run_backtest(RunSpec(strategy="buy_hold", cash=1_000_000.0), market)
    bars = market.bars["ORCL"]
    entry = result.orders[result.orders.status == "Completed"].iloc[0]
    # a buy-and-hold can earn the move from its fill (the next bar's open) to the last close
    series_return = bars["close"].iloc[-1] / entry["exec_price"] - 1
    assert result.metrics["total_return"] == pytest.approx(series_return, rel=0.005)
    # and the fill is the first bar's next open, or a later one only if a gap made it unaffordable
    assert entry["executed"][:10] in {d.strftime("%Y-%m-%d") for d in bars.index[1:6]}
    assert any("back-adjusted" in n for n in result.market.notes)
