"""Charts drawn with matplotlib on the Agg backend (backtrader's own plotting forces TkAgg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def _pyplot():
    import logging

    import matplotlib

    matplotlib.use("Agg", force=True)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import matplotlib.pyplot as plt

    return plt


def equity_chart(
    equity: pd.DataFrame,
    trades: pd.DataFrame,
    path: str | Path,
    title: str,
    benchmark_returns: pd.Series | None = None,
    events: list[dict[str, Any]] | None = None,
) -> Path:
    """Equity curve (with the benchmark rescaled to the same start), trade entry/exit markers,
    event lines (e.g. a kill switch) and the drawdown underneath; saved as PNG."""
    plt = _pyplot()
    value = equity["value"]
    fig, (ax, axdd) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True, height_ratios=[3, 1])
    ax.plot(value.index, value.values, color="#1f5fa8", lw=1.3, label="strategy")
    if benchmark_returns is not None and len(benchmark_returns):
        bench = value.iloc[0] * (1 + benchmark_returns.fillna(0)).cumprod()
        ax.plot(bench.index, bench.values, color="#999999", lw=1.0, label=f"benchmark ({benchmark_returns.name})")
    if len(trades):
        for col, marker, color, label in (
            ("entry_date", "^", "#2a9d4b", "entry"),
            ("exit_date", "v", "#c0392b", "exit"),
        ):
            dates = pd.DatetimeIndex(pd.to_datetime(trades[col]))
            pos = value.index.searchsorted(dates).clip(0, len(value) - 1)
            ax.scatter(value.index[pos], value.values[pos], marker=marker, color=color, s=18, zorder=3, label=label)
    for ev in events or []:
        when = pd.Timestamp(ev["date"])
        ax.axvline(when, color="#d35400", ls="--", lw=1)
        ax.annotate(
            ev.get("label", "event"),
            (when, ax.get_ylim()[1]),
            color="#d35400",
            fontsize=8,
            ha="left",
            va="top",
            rotation=90,
        )
    ax.set_title(title)
    ax.set_ylabel("portfolio value")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    drawdown = value / value.cummax() - 1
    axdd.fill_between(drawdown.index, drawdown.values, 0, color="#c0392b", alpha=0.4)
    axdd.set_ylabel("drawdown")
    axdd.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
