"""Robustness lab: Monte Carlo resampled feeds, walk-forward analysis, parameter optimisation.

Every run in every path, fold and trial goes through :func:`autostock.engine.run_backtest`, so
the same strategy, params, sizer and costs apply everywhere. Independent runs execute on a
local process pool or a Dask cluster (:mod:`autostock.robustness.executor`).
"""
