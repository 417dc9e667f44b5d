"""``autostock lookahead``: a look-ahead and recursive-bias check for any strategy."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from autostock.commands.backtest import backtest_options, default_out, spec_from_options

BIAS_EXIT_CODE = 1


@click.command()
@backtest_options
@click.option("--cuts", type=int, default=3, show_default=True, help="Cut points checked (second half of the data).")
@click.option(
    "--history",
    type=int,
    default=300,
    show_default=True,
    help="Bars of history before each cut for the recursive (warm-up) check, as a live backfill gives.",
)
@click.option(
    "--tolerance",
    type=float,
    default=1e-6,
    show_default=True,
    help="Relative difference a recursive line may keep after --history bars.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    help="Folder for lookahead.json. [default: reports/<strategy>-<timestamp>/]",
)
def lookahead(cuts: int, history: int, tolerance: float, out: str | None, **kw: Any) -> None:
    """Check a strategy for look-ahead and recursive bias; exit 1 when bias is found.

    Runs the strategy on the full data, on the data truncated at each cut and with the bars after
    each cut perturbed, and compares every indicator line and order decision on or before the
    cut; then checks which lines depend on how much history preceded them.
    """
    from autostock.robustness.lookahead import check_lookahead

    spec, market = spec_from_options(out=out, **kw)
    report = check_lookahead(spec, market, cuts=cuts, history=history, tolerance=tolerance, seed=spec.seed)
    folder = Path(spec.out) if spec.out else default_out(f"{spec.strategy}-lookahead")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "lookahead.json"
    path.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    click.echo(
        f"lookahead check of {spec.strategy} on {market.label}: {len(report.cuts)} cut(s), "
        f"{len(report.lines_checked)} indicator line(s), {report.n_decisions} order decision(s)"
    )
    for f in report.lookahead:
        click.echo(f"  LOOK-AHEAD ({f.check}, cut {f.cut}): {f.item}: {f.detail}")
    for r in report.recursive:
        click.echo(f"  RECURSIVE: {r['line']}: {r['detail']}")
    click.echo("  bias found" if report.bias_found else "  no look-ahead or recursive bias found")
    click.echo(f"wrote {path}")
    if report.bias_found:
        sys.exit(BIAS_EXIT_CODE)


COMMANDS = [lookahead]
