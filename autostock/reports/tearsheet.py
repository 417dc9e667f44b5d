"""QuantStats HTML tearsheet and pyfolio-reloaded outputs."""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from autostock.reports.charts import _pyplot


def quantstats_html(returns: pd.Series, benchmark: pd.Series | None, path: str | Path, title: str) -> Path:
    """The QuantStats full HTML report against ``benchmark``, made to open offline.

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
        qs.reports.html(returns, benchmark=benchmark, output=str(path), title=title, download_filename=path.name,
                        periods_per_year=periods_per_year(returns.index), match_dates=False)
    html = path.read_text(encoding="utf-8")
    html = re.sub(r'<link[^>]*rel="shortcut icon"[^>]*>', "", html)
    path.write_text(html, encoding="utf-8")
    return path


def pyfolio_outputs(pf: dict[str, Any], benchmark: pd.Series | None, folder: str | Path) -> list[Path]:
    """Returns, positions and transactions in pyfolio's format (from backtrader's PyFolio
    analyzer) as CSV, and pyfolio's returns tear sheet as PNG."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for key in ("returns", "positions", "transactions", "gross_lev"):
        frame = pf[key]
        target = folder / f"{key}.csv"
        frame.to_csv(target)
        written.append(target)
    plt = _pyplot()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        import pyfolio

        rets = pf["returns"]
        bench = None
        if benchmark is not None:
            bench = benchmark.copy()
            bench.index = pd.DatetimeIndex(bench.index).tz_localize("UTC") if bench.index.tz is None else bench.index
            bench = bench.reindex(rets.index).fillna(0.0)
        fig = pyfolio.create_returns_tear_sheet(rets, benchmark_rets=bench, return_fig=True)
        target = folder / "returns_tear_sheet.png"
        fig.savefig(target, dpi=60)
        plt.close(fig)
    written.append(target)
    return written
