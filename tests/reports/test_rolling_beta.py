"""The vectorised rolling beta gives pyfolio's values bar for bar."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autostock.reports.tearsheet import fast_pyfolio, rolling_beta


def series(seed: int, n: int = 300, nans: int = 0) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2015-01-01", periods=n, tz="UTC")
    bench = pd.Series(rng.normal(0, 0.01, n), index=idx, name="SPY")
    rets = pd.Series(0.8 * bench.to_numpy() + rng.normal(0, 0.01, n), index=idx)
    if nans:
        rets.iloc[rng.choice(n, nans, replace=False)] = np.nan
    return rets, bench


@pytest.mark.parametrize(("seed", "window", "nans"), [(1, 63, 0), (2, 126, 0), (3, 40, 12)])
def test_rolling_beta_equals_pyfolio_loop(seed, window, nans):
    import pyfolio.timeseries

    rets, bench = series(seed, nans=nans)
    expected = pyfolio.timeseries.rolling_beta(rets, bench, rolling_window=window)
    got = rolling_beta(rets, bench, rolling_window=window)
    assert got.index.equals(expected.index)
    assert got.isna().equals(expected.isna())
    np.testing.assert_allclose(got.dropna().to_numpy(), expected.dropna().to_numpy(), rtol=1e-10, atol=1e-12)
    assert got.iloc[window:].notna().sum() > 0


def test_rolling_beta_of_a_frame_is_computed_per_column():
    import pyfolio.timeseries

    rets, bench = series(4)
    frame = pd.DataFrame({"a": bench, "b": bench * 2})
    expected = pyfolio.timeseries.rolling_beta(rets, frame, rolling_window=50)
    got = rolling_beta(rets, frame, rolling_window=50)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-10)


def test_fast_pyfolio_swaps_the_function_only_inside_the_block():
    import pyfolio.timeseries

    original = pyfolio.timeseries.rolling_beta
    with fast_pyfolio():
        assert pyfolio.timeseries.rolling_beta is rolling_beta
    assert pyfolio.timeseries.rolling_beta is original
