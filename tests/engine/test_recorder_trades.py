"""The recorder books trades from order executions; check it against backtrader's trade history."""

from __future__ import annotations

import backtrader as bt
import pandas as pd
import pytest

from autostock.config import RunSpec
from autostock.engine import assemble
from autostock.feeds.synthetic import generate_market
from autostock.result import TRADE_COLUMNS
from autostock.strategies.sma_cross import SmaCross


class HistoryTrades(bt.Analyzer):
    """Exit price, peak size and order refs of each closed trade, read from ``trade.history``."""

    def start(self) -> None:
        self.rows: list[tuple] = []

    def notify_trade(self, trade: bt.Trade) -> None:
        if not trade.isclosed:
            return
        events = [h.event for h in trade.history if "order" in h.event]
        first = events[0].size
        closing = [e for e in events if (e.size > 0) != (first > 0)]
        qty = sum(abs(e.size) for e in closing)
        exit_price = sum(abs(e.size) * e.price for e in closing) / qty
        peak = max(abs(h.status.size) for h in trade.history)
        self.rows.append((trade.data._name, "long" if first > 0 else "short", exit_price, peak))


@pytest.mark.parametrize("partial", [False, True], ids=["whole-fills", "partial-fills"])
def test_recorder_trades_match_backtrader_trade_history(partial: bool) -> None:
    market = generate_market(["AA", "BB"], "2015-01-01", "2016-12-31", seed=5)
    spec = RunSpec(
        strategy="sma_cross",
        symbols=market.symbols,
        params={"fast": 5, "slow": 15, "allow_short": True},
        commission=0.1,
        risk={"stop_loss": 0.03, "max_position_weight": 0.3},
    )
    cerebro, _ = assemble(spec, market)
    cerebro.p.tradehistory = True
    if partial:  # at most 40 shares per bar: orders fill over several bars
        cerebro.broker.set_filler(bt.broker.fillers.FixedSize(size=40))
    cerebro.addanalyzer(HistoryTrades, _name="history")
    strat = cerebro.run()[0]
    recorded = pd.DataFrame(strat.analyzers.recorder.trades, columns=TRADE_COLUMNS)
    expected = pd.DataFrame(strat.analyzers.history.rows, columns=["symbol", "direction", "exit_price", "size"])
    assert len(recorded) > 20
    assert (recorded["direction"] == "short").any()
    if partial:  # some trade was built from more than one execution on each side
        assert (recorded["size"] > 40).any()
    pd.testing.assert_frame_equal(
        recorded[["symbol", "direction", "exit_price", "size"]], expected, check_dtype=False, rtol=1e-12
    )


class HistoryReader(SmaCross):
    """A user strategy that reads ``trade.history`` and says so."""

    needs_trade_history = True

    def __init__(self) -> None:
        super().__init__()
        self.history_lengths: list[int] = []

    def notify_trade(self, trade: bt.Trade) -> None:
        if trade.isclosed:
            self.history_lengths.append(len(trade.history))


def test_trade_history_is_kept_only_for_a_strategy_that_asks_for_it() -> None:
    market = generate_market(["AA"], "2015-01-01", "2016-06-30", seed=5)
    plain, _ = assemble(RunSpec(strategy="sma_cross", symbols=["AA"]), market)
    assert plain.p.tradehistory is False
    cerebro, _ = assemble(RunSpec(strategy=f"{__name__}:HistoryReader", symbols=["AA"]), market)
    strat = cerebro.run()[0]
    assert strat.history_lengths and min(strat.history_lengths) >= 2  # an opening and a closing update
