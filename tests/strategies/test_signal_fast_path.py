"""SignalStrategy.next reads its signal lines, positions and pending orders in place; these
tests hold it to the plain per-data loop (``desired`` + ``broker.getposition``) it replaces,
on a market with a symbol that starts late, long and short, through every signal shape."""

from __future__ import annotations

import dataclasses
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from autostock.config import RunSpec
from autostock.engine import build_cerebro, run_backtest
from autostock.feeds.synthetic import generate_market
from autostock.strategies.base import SignalStrategy
from autostock.strategies.sma_cross import Above, SmaCross


class Reference(SmaCross):
    """SmaCross decided by the straightforward loop over ``desired`` and ``getposition``."""

    def next(self) -> None:
        position = self.broker.getposition
        for d in self.datas:
            if self.pending(d) or len(d) == 0:
                continue
            want = self.desired(d)
            size = position(d).size
            have = (size > 0) - (size < 0)
            if want == have:
                continue
            if have != 0:
                self.close(data=d)
            elif want > 0:
                self.buy(data=d)
            else:
                self.sell(data=d)


class Inverted(SmaCross):
    """An overridden ``desired`` is what decides (long below the slow average)."""

    def desired(self, data: Any) -> int:
        base = SignalStrategy.desired(self, data)
        return -base if self.p.allow_short else int(base == 0)


class InvertedReference(Reference):
    desired = Inverted.desired


class GtSignal(SignalStrategy):
    """A signal that is a bare line operation (``a > b``: 1.0 / 0.0), not an indicator."""

    params = (("fast", 5), ("slow", 20))

    @classmethod
    def signal(cls, data: Any, p: Any) -> Any:
        return bt.indicators.SMA(data.close, period=p.fast) > bt.indicators.SMA(data.close, period=p.slow)


class GtReference(GtSignal):
    next = Reference.next


@pytest.fixture(scope="module")
def late_market():
    """Four symbols from 2018 and one that starts in mid 2019 (its warm-up comes later)."""
    market = generate_market(["AAA", "BBB", "CCC", "DDD"], "2018-01-01", "2020-06-30", seed=11)
    late = generate_market(["LATE"], "2019-06-03", "2020-06-30", seed=12)
    return dataclasses.replace(market, bars={**market.bars, **late.bars})


def _run(name: str, market, **kw: Any):
    spec = RunSpec(strategy=f"{__name__}:{name}", symbols=list(market.bars), commission=0.1, slippage=0.05, **kw)
    return run_backtest(spec, market)


def _same(a, b) -> None:
    """Identical runs (order refs count on across runs, so they are compared relative to the first)."""
    oa, ob = a.orders.copy(), b.orders.copy()
    oa["ref"] -= oa["ref"].min()
    ob["ref"] -= ob["ref"].min()
    pd.testing.assert_frame_equal(oa, ob)
    for frame in ("trades", "equity", "positions"):
        pd.testing.assert_frame_equal(getattr(a, frame), getattr(b, frame))
    assert a.metrics == b.metrics


@pytest.mark.parametrize(
    ("fast", "reference", "params"),
    [
        ("SmaCross", "Reference", {"fast": 5, "slow": 20}),
        ("SmaCross", "Reference", {"fast": 5, "slow": 20, "allow_short": True}),
        ("Inverted", "InvertedReference", {"fast": 5, "slow": 20}),
        ("Inverted", "InvertedReference", {"fast": 5, "slow": 20, "allow_short": True}),
        ("GtSignal", "GtReference", {}),
    ],
)
def test_fast_next_decides_like_the_plain_loop(fast: str, reference: str, params: dict, late_market) -> None:
    a, b = _run(fast, late_market, params=params), _run(reference, late_market, params=params)
    assert len(a.orders) > 10
    late = a.orders[a.orders.symbol == "LATE"]
    assert len(late) > 0 and pd.to_datetime(late["created"]).min() >= pd.Timestamp("2019-06-03")
    _same(a, b)


def test_fast_next_decides_like_the_plain_loop_with_risk_settings(late_market) -> None:
    risk = {"stop_loss": 0.03, "max_drawdown": 0.1, "max_position_weight": 0.3}
    a = _run("SmaCross", late_market, params={"fast": 5, "slow": 20}, risk=risk)
    b = _run("Reference", late_market, params={"fast": 5, "slow": 20}, risk=risk)
    assert (a.orders["type"] == "Stop").any()
    _same(a, b)


def test_filled_orders_leave_the_pending_book(small_market) -> None:
    """Terminal notifications (clones of the broker's orders) clear the per-data pending entry."""
    strat = build_cerebro(RunSpec(strategy="sma_cross", params={"fast": 5, "slow": 20}), small_market).run()[0]
    orders = strat.analyzers.recorder.orders
    assert len(orders) > 10 and all(o["status"] == "Completed" for o in orders[:-5])
    alive = {d: o for d, o in strat._pending_orders().items() if o.alive()}
    assert strat._pending_orders() == alive  # only live orders remain


def test_above_is_plus_minus_one_after_warm_up_and_nan_before(small_market) -> None:
    class Probe(bt.Strategy):
        def __init__(self) -> None:
            fast = bt.indicators.SMA(self.data.close, period=3)
            slow = bt.indicators.SMA(self.data.close, period=8)
            self.fast, self.slow, self.above = fast, slow, Above(fast.lines[0], slow.lines[0])

    values = {}
    for runonce in (True, False):
        cerebro = bt.Cerebro(stdstats=False)
        from autostock.feeds.btfeed import FrameFeed

        cerebro.adddata(FrameFeed(dataname=small_market.bars["AAPL"].iloc[:60]))
        cerebro.addstrategy(Probe)
        s = cerebro.run(runonce=runonce)[0]
        values[runonce] = (
            np.array(s.above.array[: len(s)]),
            np.array(s.fast.lines[0].array[: len(s)]),
            np.array(s.slow.lines[0].array[: len(s)]),
        )
    above, fast, slow = values[True]
    assert np.isnan(above[:7]).all()
    assert np.array_equal(above[7:], np.where(fast[7:] > slow[7:], 1.0, -1.0))
    assert set(above[7:]) == {1.0, -1.0}
    np.testing.assert_array_equal(values[False][0], above)  # next-by-next gives the same line


def test_above_refuses_indicators(small_market) -> None:
    class Probe(bt.Strategy):
        def __init__(self) -> None:
            Above(bt.indicators.SMA(self.data.close, period=3), bt.indicators.SMA(self.data.close, period=8))

    from autostock.feeds.btfeed import FrameFeed

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(FrameFeed(dataname=small_market.bars["AAPL"].iloc[:60]))
    cerebro.addstrategy(Probe)
    with pytest.raises(TypeError, match="takes lines"):
        cerebro.run()
