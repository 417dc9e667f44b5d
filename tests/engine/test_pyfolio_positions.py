"""pyfolio's positions frame holds every symbol (backtrader's ``get_pf_items`` keeps only the last)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from autostock.config import RunSpec
from autostock.engine import assemble, collect


def test_positions_have_a_column_per_symbol_and_add_up_to_the_account_value(small_market):
    symbols = small_market.symbols[:4]
    spec = RunSpec(strategy="sma_cross", params={"fast": 5, "slow": 20}, symbols=symbols)
    market = small_market.select(symbols)
    cerebro, context = assemble(spec, market, pyfolio=True)
    strategy = cerebro.run()[0]
    result = collect(spec, market, strategy, pyfolio=True, context=context)
    positions = result.pyfolio["positions"]
    assert list(positions.columns) == [*symbols, "cash"]
    assert (positions[symbols] != 0).any().all()  # every symbol was held at some point
    value = result.equity["value"].to_numpy()
    np.testing.assert_allclose(positions.sum(axis=1).to_numpy(), value, rtol=1e-12)
    # backtrader's own frame: the last symbol and the cash, the same values on the same dates
    _, theirs, _, _ = strategy.analyzers.pyfolio.get_pf_items()
    pd.testing.assert_frame_equal(positions[theirs.columns], theirs)
