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


@pytest.mark.parametrize("shorts", [False, True])
def test_positions_have_every_symbol_and_equal_backtraders_analyzer(small_market, shorts):
    symbols = small_market.symbols[:4]
    params = {"fast": 5, "slow": 20, "allow_short": shorts}
    spec = RunSpec(strategy="sma_cross", params=params, symbols=symbols)
    market = small_market.select(symbols)
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
        np.testing.assert_allclose(positions.sum(axis=1).to_numpy(), result.equity["value"].to_numpy(), rtol=1e-12)
    ret, last, txn, lev = strategy.analyzers.reference.get_pf_items()
    pd.testing.assert_frame_equal(positions[last.columns], last, check_exact=True)
    pd.testing.assert_series_equal(pf["returns"], ret, check_exact=True)
    pd.testing.assert_frame_equal(pf["transactions"], txn, check_exact=True)
    pd.testing.assert_series_equal(pf["gross_lev"], lev, check_exact=True)
    # every column against backtrader's own per-data values (its analyzer, not its frame)
    reference = strategy.analyzers.reference.rets["positions"]
    theirs = pd.DataFrame.from_records([[k, *v] for k, v in list(reference.items())[1:]]).set_index(0)
    np.testing.assert_array_equal(positions.to_numpy(), theirs.to_numpy())
    assert pyfolio_items(strategy.analyzers.reference)["positions"].equals(positions)
