"""pyfolio's inputs from :class:`PyFolioFast` equal backtrader's PyFolio analyzer's, with a
positions column for every symbol (backtrader's ``get_pf_items`` keeps only the last)."""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from autostock.analyzers.pyfolio import pyfolio_items
from autostock.config import RunSpec
from autostock.engine import assemble, collect
from autostock.feeds.market import Market


def intraday_market() -> Market:
    """Two symbols, 5-minute bars over eight sessions (several bars, and returns, per day)."""
    rng = np.random.default_rng(3)
    days = pd.bdate_range("2021-03-01", periods=8)
    idx = pd.DatetimeIndex(
        [d + pd.Timedelta(hours=9, minutes=30 + 5 * k) for d in days for k in range(78)], name="date"
    )
    bars = {}
    for sym in ("AAA", "BBB"):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.002, len(idx))))
        opens = np.r_[close[0], close[:-1]]
        bars[sym] = pd.DataFrame(
            {
                "open": opens,
                "high": np.maximum(opens, close) * 1.001,
                "low": np.minimum(opens, close) * 0.999,
                "close": close,
                "volume": 1e5,
            },
            index=idx,
        )
    return Market(bars=bars, source="intraday test")


@pytest.mark.parametrize("shorts, intraday", [(False, False), (True, False), (False, True)])
def test_positions_have_every_symbol_and_equal_backtraders_analyzer(small_market, shorts, intraday):
    market = intraday_market() if intraday else small_market.select(small_market.symbols[:4])
    symbols = market.symbols
    params = {"fast": 5, "slow": 20, "allow_short": shorts}
    spec = RunSpec(strategy="sma_cross", params=params, symbols=symbols)
    cerebro, context = assemble(spec, market, pyfolio=True)
    cerebro.addanalyzer(bt.analyzers.PyFolio, _name="reference")
    if shorts:
        cerebro.broker.set_shortcash(False)  # the other valuation branch
    strategy = cerebro.run()[0]
    result = collect(spec, market, strategy, pyfolio=True, context=context)
    pf = result.pyfolio
    positions = pf["positions"]
    assert list(positions.columns) == [*symbols, "cash"]
    assert (positions[symbols] != 0).any().all()  # every symbol was held at some point
    if shorts:
        assert (positions[symbols] < 0).any().any()
    else:
        value = result.equity["value"]
        value = value.groupby(value.index.normalize()).last()  # one row per day, as the feeds are daily-framed
        np.testing.assert_allclose(positions.sum(axis=1).to_numpy(), value.to_numpy(), rtol=1e-12)
    ret, last, txn, lev = strategy.analyzers.reference.get_pf_items()
    assert len(ret) == (8 if intraday else len(result.equity)) and len(txn) > 10
    pd.testing.assert_frame_equal(positions[last.columns], last, check_exact=True)
    pd.testing.assert_series_equal(pf["returns"], ret, check_exact=True)
    pd.testing.assert_frame_equal(pf["transactions"], txn, check_exact=True)
    pd.testing.assert_series_equal(pf["gross_lev"], lev, check_exact=True)
    # every column against backtrader's own per-data values (its analyzer, not its frame)
    reference = strategy.analyzers.reference.rets["positions"]
    theirs = pd.DataFrame.from_records([[k, *v] for k, v in list(reference.items())[1:]]).set_index(0)
    np.testing.assert_array_equal(positions.to_numpy(), theirs.to_numpy())
    assert pyfolio_items(strategy.analyzers.reference)["positions"].equals(positions)
