"""The metrics table printed after a run."""

from __future__ import annotations

from pathlib import Path

from autostock.result import RunResult

PERCENT = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure", "alpha", "daily_win_rate"}


def print_summary(result: RunResult, paths: dict[str, Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    eq = result.equity
    table = Table(
        title=f"{result.spec.strategy} | {result.market.label} | {eq.index[0].date()} .. {eq.index[-1].date()}"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("initial cash", f"{result.spec.cash:,.2f}")
    table.add_row("final value", f"{result.final_value:,.2f}")
    for key, value in result.metrics.items():
        if value is None:
            text = "n/a"
        elif isinstance(value, bool):  # e.g. tuned_on_overlap
            text = "YES" if value else "no"
        elif key in PERCENT:
            text = f"{value:.2%}"
        elif key in ("n_trades", "periods_per_year"):
            text = str(value)
        else:
            text = f"{value:.3f}"
        table.add_row(key, text)
    console.print(table)
    if result.market.synthetic:
        console.print("[yellow]data: SYNTHETIC (seeded generator), not real prices[/yellow]")
    for note in result.market.notes:
        console.print(f"note: {note}")
    if result.market.gaps:
        console.print(f"note: {len(result.market.gaps)} gap(s) in the data beyond weekends/holidays (see summary.json)")
    if paths:
        console.print(f"outputs: {next(iter(paths.values())).parent}")
    if "tearsheet" in paths:
        console.print(f"tearsheet: {paths['tearsheet']}")
