"""``autostock montecarlo``, ``autostock walkforward`` and ``autostock optimize``.

Each takes the backtest command's options (strategy, data, costs, sizer, seed) plus
``--workers N`` (local process pool, default all cores) and ``--dask ADDRESS``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from autostock.commands.backtest import (
    backtest_options,
    check_out_dir,
    default_out,
    flags_for,
    spec_from_options,
)

#: library parameters these commands take from flags of the same name
FLAG_PARAMS = ("workers", "dask", "trials", "paths", "block")

OBJECTIVE_CHOICE = click.Choice(["sharpe", "cagr", "calmar", "sortino"])


def executor_options(f: Callable) -> Callable:
    """``--workers``, ``--dask``, ``--progress`` and ``--out`` for multi-run commands."""
    options = [
        click.option("--workers", "-w", type=int, help="Local worker processes. [default: all cores]"),
        click.option(
            "--dask",
            metavar="ADDRESS",
            help="Run on Dask: 'local' (a LocalCluster on this machine) or a scheduler address like tcp://host:8786.",
        ),
        click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr."),
        click.option(
            "--out",
            "-o",
            type=click.Path(file_okay=False),
            help="Output folder. [default: reports/<strategy>-<command>-<timestamp>/]",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _executor(workers: int | None, dask: str | None, progress: bool):
    from autostock.robustness.executor import Executor

    return Executor(workers, dask, progress)


def _folder(out: str | None, strategy: str, command: str) -> Path:
    return Path(out) if out else default_out(f"{strategy}-{command}")


def _finish(interrupted: bool, done: int, total: int, what: str) -> None:
    if interrupted:
        click.echo(f"interrupted: {done} of {total} {what} finished; their results are written above", err=True)
        sys.exit(130)


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


@click.command()
@backtest_options
@click.option("--paths", type=int, default=500, show_default=True, help="Number of Monte Carlo paths.")
@click.option(
    "--block", type=float, default=20.0, show_default=True, help="Mean block length (days) of the stationary bootstrap."
)
@click.option(
    "--mode",
    type=click.Choice(["bars", "trades"]),
    default="bars",
    show_default=True,
    help="Resample the market's daily bars, or the historical run's trade P&L.",
)
@click.option(
    "--trade-sampling",
    type=click.Choice(["bootstrap", "shuffle"]),
    default="bootstrap",
    show_default=True,
    help="Trades mode: draw the trade P&L with replacement, or permute it.",
)
@click.option(
    "--dd-limit",
    type=float,
    default=0.2,
    show_default=True,
    help="Report the probability that max drawdown exceeds this fraction.",
)
@click.option("--sample-curves", type=int, default=100, show_default=True, help="Equity curves kept for the fan chart.")
@executor_options
def montecarlo(
    paths: int,
    block: float,
    mode: str,
    trade_sampling: str,
    dd_limit: float,
    sample_curves: int,
    workers: int | None,
    dask: str | None,
    progress: bool,
    out: str | None,
    **kw: Any,
) -> None:
    """Run the strategy over resampled histories; write montecarlo.json, paths.csv, charts, HTML."""
    from autostock.robustness.montecarlo import run_montecarlo, write_montecarlo

    check_out_dir(out)
    spec, market = spec_from_options(**kw)
    if not (0 < dd_limit < 1):
        from autostock.errors import ConfigError

        raise ConfigError(f"--dd-limit must be a fraction between 0 and 1, got {dd_limit}")
    with flags_for(*FLAG_PARAMS), _executor(workers, dask, progress) as executor:
        result = run_montecarlo(spec, market, paths, block, spec.seed, mode, trade_sampling, sample_curves, executor)
    folder = _folder(out, spec.strategy, "montecarlo")
    files = write_montecarlo(result, folder, dd_limit)
    summary = result.summary(dd_limit)
    click.echo(f"Monte Carlo ({mode}): {len(result.table)} paths of {spec.strategy} on {market.label}")
    for metric, pct in summary["percentiles"].items():
        line = "  ".join(f"{k}={_fmt(v)}" for k, v in (pct or {}).items())
        click.echo(f"  {metric:<13} {line}  historical={_fmt(summary['historical'].get(metric))}")
    click.echo(
        f"  probability of loss: {_fmt(summary['probability_of_loss'])}; "
        f"P(max drawdown > {dd_limit:.0%}): {_fmt(summary['probability_drawdown_exceeds_limit'])}"
    )
    if mode == "trades":
        click.echo(
            f"  trades mode books closed trades only: the backtest's mark-to-market max drawdown is "
            f"{_fmt(result.settings.get('mark_to_market_max_drawdown'))} (closed trades: "
            f"{_fmt(result.settings.get('closed_trade_max_drawdown'))})"
        )
    if result.settings.get("engine"):
        click.echo(f"  engine: {result.settings['engine']}")
    click.echo(f"wrote {', '.join(str(p) for p in files.values())}")
    _finish(result.interrupted, len(result.table), paths, "paths")


@click.command()
@backtest_options
@click.option(
    "--grid",
    "-g",
    "grid",
    multiple=True,
    required=True,
    metavar="NAME=START:STOP:STEP|V1,V2",
    help="Param values to search (repeatable), e.g. fast=5:50:5.",
)
@click.option("--objective", type=OBJECTIVE_CHOICE, default="sharpe", show_default=True)
@click.option("--method", type=click.Choice(["grid", "random", "optuna"]), default="grid", show_default=True)
@click.option("--trials", type=int, help="Trials for random / optuna. [default: 50]")
@executor_options
def optimize(
    grid: tuple[str, ...],
    objective: str,
    method: str,
    trials: int | None,
    workers: int | None,
    dask: str | None,
    progress: bool,
    out: str | None,
    **kw: Any,
) -> None:
    """Search strategy params; write optimize.csv, optimize.json (best, deflated Sharpe, PBO), heatmap.png."""
    from autostock.robustness.optimize import grid_size, parse_grid, write_optimize
    from autostock.robustness.optimize import optimize as run_optimize

    parsed = parse_grid(grid)
    check_out_dir(out)
    spec, market = spec_from_options(**kw)
    with flags_for(*FLAG_PARAMS), _executor(workers, dask, progress) as executor:
        result = run_optimize(spec, market, parsed, objective, method, trials, spec.seed, executor)
    files = write_optimize(result, _folder(out, spec.strategy, "optimize"))
    best, dsr, pbo = result.best, result.deflated_sharpe, result.pbo
    click.echo(
        f"optimize ({method}, {len(result.table)} trials of a {grid_size(parsed)}-point grid, objective {objective})"
    )
    if best:
        click.echo(f"  best params: {best['params']}  {objective}={_fmt(best['objective'])}")
    click.echo(
        f"  deflated Sharpe of the best trial: {_fmt(dsr['dsr']) if dsr else 'n/a'}; "
        f"probability of backtest overfitting: {_fmt(pbo['pbo']) if pbo else 'n/a'}"
    )
    click.echo(f"  verdict: {result.verdict['text']}")
    click.echo(f"  engine: {result.settings['engine']}")
    click.echo(f"wrote {', '.join(str(p) for p in files.values())}")
    _finish(result.interrupted, len(result.table), len(result.table), "trials")


@click.command()
@backtest_options
@click.option(
    "--grid",
    "-g",
    "grid",
    multiple=True,
    required=True,
    metavar="NAME=START:STOP:STEP|V1,V2",
    help="Param values to search in each in-sample window (repeatable).",
)
@click.option("--train", default="3y", show_default=True, help="In-sample window: 3y, 18m, 26w, 90d.")
@click.option("--test", default="6m", show_default=True, help="Out-of-sample window.")
@click.option(
    "--anchored/--rolling", default=False, show_default=True, help="Anchor every in-sample window at the first date."
)
@click.option("--objective", type=OBJECTIVE_CHOICE, default="sharpe", show_default=True)
@click.option("--method", type=click.Choice(["grid", "random"]), default="grid", show_default=True)
@click.option("--trials", type=int, help="Random trials per window. [default: 50]")
@click.option(
    "--tearsheet/--no-tearsheet", default=True, show_default=True, help="Write the stitched QuantStats tearsheet."
)
@executor_options
def walkforward(
    grid: tuple[str, ...],
    train: str,
    test: str,
    anchored: bool,
    objective: str,
    method: str,
    trials: int | None,
    tearsheet: bool,
    workers: int | None,
    dask: str | None,
    progress: bool,
    out: str | None,
    **kw: Any,
) -> None:
    """Optimise in each in-sample window, trade the choice out of sample, stitch the OOS curve."""
    from autostock.robustness.optimize import parse_grid
    from autostock.robustness.walkforward import (
        parse_duration,
        walk_forward,
        write_walkforward,
    )

    parsed = parse_grid(grid)
    train_off, test_off = parse_duration(train, "--train"), parse_duration(test, "--test")
    check_out_dir(out)
    spec, market = spec_from_options(**kw)
    with flags_for(*FLAG_PARAMS), _executor(workers, dask, progress) as executor:
        result = walk_forward(
            spec, market, parsed, train_off, test_off, anchored, objective, method, trials, spec.seed, executor
        )
    result.settings.update(train=train, test=test)
    files = write_walkforward(result, _folder(out, spec.strategy, "walkforward"), tearsheet)
    click.echo(
        f"walk-forward ({'anchored' if anchored else 'rolling'}, train {train}, test {test}): {len(result.folds)} folds"
    )
    cols = ["fold", "test_start", "test_end", *parsed, "is_cagr", "oos_cagr", "wfe"]
    click.echo(result.folds[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo(
        f"  stitched OOS: CAGR={_fmt(result.metrics.get('cagr'))} Sharpe={_fmt(result.metrics.get('sharpe'))} "
        f"max drawdown={_fmt(result.metrics.get('max_drawdown'))}; walk-forward efficiency={_fmt(result.wfe)}"
    )
    stats = result.overfitting
    click.echo(
        f"  deflated Sharpe of the stitched OOS: {_fmt((stats['deflated_sharpe'] or {}).get('dsr'))}; "
        f"PBO of the in-sample search (median over folds): {_fmt(stats['pbo_median'])}"
    )
    click.echo(f"  verdict: {stats['verdict']['text']}")
    click.echo(f"  engine: {result.settings['engine']}")
    click.echo(f"wrote {', '.join(str(p) for p in files.values())}")
    _finish(result.interrupted, len(result.folds), len(result.folds), "folds")


COMMANDS = [montecarlo, walkforward, optimize]
