"""The pyfolio returns tear sheet with the vectorised rolling beta is the same picture as pyfolio's own."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd


def render(fast: bool) -> np.ndarray:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import pyfolio

    from autostock.reports.tearsheet import fast_pyfolio

    rng = np.random.default_rng(3)
    idx = pd.bdate_range("2016-01-01", periods=400, tz="UTC")
    bench = pd.Series(rng.normal(0.0004, 0.01, len(idx)), index=idx, name="SPY")
    rets = pd.Series(0.7 * bench.to_numpy() + rng.normal(0.0002, 0.008, len(idx)), index=idx)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if fast:
            with fast_pyfolio():
                fig = pyfolio.create_returns_tear_sheet(rets, benchmark_rets=bench, return_fig=True)
        else:
            fig = pyfolio.create_returns_tear_sheet(rets, benchmark_rets=bench, return_fig=True)
    fig.set_dpi(30)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba()).copy()
    plt.close(fig)
    return pixels


def test_fast_returns_tear_sheet_draws_the_same_pixels_as_pyfolio():
    fast, slow = render(True), render(False)
    assert fast.shape == slow.shape
    assert (fast != 255).any()  # something was drawn
    assert np.array_equal(fast, slow)
