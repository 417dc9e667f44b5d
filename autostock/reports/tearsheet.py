"""QuantStats HTML tearsheet and the pyfolio outputs (pyfolio's format and its returns tear sheet)."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autostock.reports.charts import _pyplot


def quantstats_html(returns: pd.Series, benchmark: pd.Series | None, path: str | Path, title: str) -> Path:
    """QuantStats' own full HTML report against ``benchmark``, made to open offline: the opt-in
    output ``tearsheet_native`` (the default ``tearsheet.html`` is :mod:`autostock.reports.qs_page`'s).

    QuantStats inlines its charts as SVG; its only remote reference (a favicon link) is removed.
    """
    import quantstats as qs

    from autostock.reports.metrics import periods_per_year

    _pyplot()
    path = Path(path)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        # the bar frequency of the data, and every bar (no trimming to the first trade), so the
        # tearsheet's CAGR and annualised figures are the summary's
        qs.reports.html(
            returns,
            benchmark=benchmark,
            output=str(path),
            title=title,
            download_filename=path.name,
            periods_per_year=periods_per_year(returns.index),
            match_dates=False,
        )
    html = path.read_text(encoding="utf-8")
    html = re.sub(r'<link[^>]*rel="shortcut icon"[^>]*>', "", html)
    path.write_text(html, encoding="utf-8")
    return path


def rolling_beta(returns: pd.Series, factor_returns: pd.Series | pd.DataFrame, rolling_window: int = 126) -> Any:
    """What ``pyfolio.timeseries.rolling_beta`` computes, without its Python loop.

    pyfolio calls ``empyrical.beta`` once per bar (with a ``pd.concat`` each time) over the label
    slice ``index[i] .. index[i + rolling_window]`` (``rolling_window + 1`` returns) and stores it
    at ``index[i + rolling_window]``. Here every window is a row of one strided view and the same
    formula as ``empyrical.beta_aligned`` is applied to all rows at once: ``mean(x_res * y) /
    mean(x_res ** 2)`` with ``x`` the factor where the strategy's return is not NaN and
    ``x_res = x - mean(x)`` (NaN-aware means; variances below 1e-30 give NaN).
    """
    if isinstance(factor_returns, pd.DataFrame):
        return factor_returns.apply(lambda col: rolling_beta(returns, col, rolling_window=rolling_window))
    out = pd.Series(np.nan, index=returns.index, dtype="float64")
    n = len(returns)
    if n <= rolling_window:
        return out
    if not returns.index.is_unique or not factor_returns.index.equals(returns.index):
        return _pyfolio_rolling_beta(returns, factor_returns, rolling_window)  # pyfolio aligns per window
    y = returns.to_numpy(dtype="float64")
    x = factor_returns.to_numpy(dtype="float64")
    width = rolling_window + 1
    wy = np.lib.stride_tricks.sliding_window_view(y, width)[: n - rolling_window]
    wx = np.lib.stride_tricks.sliding_window_view(x, width)[: n - rolling_window]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ind = np.where(np.isnan(wy), np.nan, wx)
        res = ind - np.nanmean(ind, axis=1, keepdims=True)
        cov = np.nanmean(res * wy, axis=1)
        var = np.nanmean(res * res, axis=1)
        var[var < 1.0e-30] = np.nan
        beta = cov / var
    out.iloc[rolling_window:] = beta
    return out


def _pyfolio_rolling_beta(returns: pd.Series, factor_returns: Any, rolling_window: int) -> Any:
    import pyfolio.timeseries

    return _ORIGINAL_ROLLING_BETA.get("fn", pyfolio.timeseries.rolling_beta)(
        returns, factor_returns, rolling_window=rolling_window
    )


_ORIGINAL_ROLLING_BETA: dict[str, Any] = {}


@contextlib.contextmanager
def fast_pyfolio() -> Iterator[None]:
    """Inside the block, pyfolio's plots use :func:`rolling_beta` (same values, vectorised)."""
    import pyfolio.timeseries

    original = pyfolio.timeseries.rolling_beta
    _ORIGINAL_ROLLING_BETA["fn"] = original
    pyfolio.timeseries.rolling_beta = rolling_beta
    try:
        yield
    finally:
        pyfolio.timeseries.rolling_beta = original
        _ORIGINAL_ROLLING_BETA.pop("fn", None)


def _benchmark_on(returns: pd.Series, benchmark: pd.Series | None) -> pd.Series | None:
    """The benchmark on the strategy's (UTC) dates, missing days as 0, as the page compares them."""
    if benchmark is None:
        return None
    bench = benchmark.copy()
    bench.index = pd.DatetimeIndex(bench.index).tz_localize("UTC") if bench.index.tz is None else bench.index
    return bench.reindex(returns.index).fillna(0.0)


def _with_shared_date_labels(frames: list[Any]) -> list[Any]:
    """The frames, those on the first one's dates with the dates already written as the text
    ``to_csv`` writes for them (``DatetimeIndex.astype(str)``: the same routine), formatted once
    for all of them instead of once per file."""
    first = frames[0].index
    labels = None
    out = []
    for frame in frames:
        if isinstance(frame.index, pd.DatetimeIndex) and frame.index.equals(first) and len(first):
            if labels is None:
                labels = first.astype(str)
            frame = frame.set_axis(pd.Index(labels, name=frame.index.name))
        out.append(frame)
    return out


def _write_pyfolio_csvs(pf: dict[str, Any], folder: Path) -> list[Path]:
    """returns, positions, transactions and gross leverage as CSV, in pyfolio's format."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    names = ("returns", "positions", "transactions", "gross_lev")
    for name, frame in zip(names, _with_shared_date_labels([pf[k] for k in names]), strict=True):
        target = folder / f"{name}.csv"
        frame.to_csv(target)
        written.append(target)
    return written


def _tear_sheet_data(pf: dict[str, Any], benchmark: pd.Series | None) -> dict[str, Any]:
    from autostock.reports.pyfolio_page import tear_sheet_data

    rets = pf["returns"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tear_sheet_data(rets, _benchmark_on(rets, benchmark))


def pyfolio_outputs(pf: dict[str, Any], benchmark: pd.Series | None, folder: str | Path) -> list[Path]:
    """Returns, positions, transactions and gross leverage in pyfolio's format (recorded by
    :class:`autostock.analyzers.pyfolio.PyFolioFast`) as CSV; pyfolio's performance statistics (``perf_stats.csv``) and worst
    drawdown periods (``drawdowns.csv``); and the returns tear sheet as a page drawn in the
    browser, ``returns_tear_sheet.html`` (:mod:`autostock.reports.pyfolio_html`), all computed
    by :mod:`autostock.reports.pyfolio_page` (pyfolio's values, without importing pyfolio or
    matplotlib). The PNG of the tear sheet is :func:`pyfolio_png_page`."""
    from autostock.reports.pyfolio_html import returns_tear_sheet_page

    folder = Path(folder)
    written = _write_pyfolio_csvs(pf, folder)
    data = _tear_sheet_data(pf, benchmark)
    stats = folder / "perf_stats.csv"
    data["perf_stats"].rename("Backtest").to_csv(stats, index_label="stat")
    drawdowns = folder / "drawdowns.csv"
    table = data["drawdowns"].dropna(how="all").astype({"Duration": "Int64"})
    table.to_csv(drawdowns, index_label="rank", date_format="%Y-%m-%d")
    page = returns_tear_sheet_page(data, folder / "returns_tear_sheet.html")
    written += [page, stats, drawdowns]
    return written


def pyfolio_png_page(pf: dict[str, Any], benchmark: pd.Series | None, folder: str | Path) -> Path:
    """``returns_tear_sheet.png`` in ``folder``: the tear sheet of :func:`pyfolio_outputs`'s page
    drawn with matplotlib, pixel-faithful to pyfolio's panels
    (:func:`autostock.reports.pyfolio_page.draw_returns_tear_sheet`)."""
    from autostock.reports.pyfolio_page import returns_tear_sheet

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "returns_tear_sheet.png"
    rets = pf["returns"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        returns_tear_sheet(rets, _benchmark_on(rets, benchmark), target)
    return target


def pyfolio_native_tear_sheet(returns: pd.Series, benchmark: pd.Series | None, path: str | Path, dpi: int = 60) -> Path:
    """pyfolio's own ``create_returns_tear_sheet`` page (seaborn styling, ~10x slower than the
    PNG of :func:`pyfolio_png_page`), with its rolling beta vectorised."""
    plt = _pyplot()
    path = Path(path)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        import pyfolio

        with fast_pyfolio():
            fig = pyfolio.create_returns_tear_sheet(
                returns, benchmark_rets=_benchmark_on(returns, benchmark), return_fig=True
            )
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
    return path
