"""``autostock backtest`` and ``autostock strategies``; the backtest options other commands reuse."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import click

from autostock.config import RunSpec, build_spec, parse_pairs
from autostock.errors import ConfigError


def parse_commission(text: str | None) -> dict[str, float]:
    """``0.1`` / ``0.1%`` -> percent; ``0.005/share`` or ``0.005/share,min=1`` -> per share."""
    if text is None:
        return {}
    raw = text.strip().lower().replace(" ", "")
    m = re.fullmatch(r"([0-9.]+)/share(?:,min=([0-9.]+))?", raw)
    try:
        if m:
            return {"commission": 0.0, "commission_per_share": float(m.group(1)),
                    "commission_min": float(m.group(2) or 0.0)}
        return {"commission": float(raw.rstrip("%"))}
    except ValueError:
        pass
    raise ConfigError(f"--commission {text!r}: expected a percent like 0.1 or per share like 0.005/share,min=1")


def backtest_options(f: Callable) -> Callable:
    """The options that define a run (strategy, data, costs, sizing, universe and risk limits);
    shared by every mode (backtest, Monte Carlo, walk-forward, optimise, trade)."""
    options = [
        click.option("--strategy", "-s", help="Registered name, path/to/file.py:Class or module:Class. [default: sma_cross]"),
        click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
                     help="Strategy param (repeatable), checked against the strategy's params."),
        click.option("--data", "-d", help="synthetic (default), sample, yahoo, alpaca, or a CSV/Parquet file or folder."),
        click.option("--symbols", help="Comma-separated tickers (AAPL,MSFT) or a universe selector (tier=safe,max=20)."),
        click.option("--start", help="First date (YYYY-MM-DD)."),
        click.option("--end", help="Last date (YYYY-MM-DD)."),
        click.option("--cash", type=float, help="Initial cash. [default: 100000]"),
        click.option("--commission", help="Percent of value (0.1) or per share with a minimum (0.005/share,min=1)."),
        click.option("--slippage", type=float, help="Slippage, percent of price per fill."),
        click.option("--spread", "spread_bps", type=float, help="Bid/ask spread in bps, half charged on each side."),
        click.option("--sizer", help="Sizer name: percent (default), fixed, ..."),
        click.option("--sizer-param", "sizer_params", multiple=True, metavar="KEY=VALUE", help="Sizer param (repeatable)."),
        click.option("--benchmark", help="Benchmark symbol (SPY for synthetic data)."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file."),
        click.option("--seed", type=int, help="Seed for synthetic data and anything random. [default: 42]"),
    ]
    from autostock.commands.risk import risk_options

    f = risk_options(f)
    for option in reversed(options):
        f = option(f)
    return f


def spec_from_options(**kw: Any) -> tuple[RunSpec, Any]:
    """Build the RunSpec (defaults < config < env < flags) and load its validated market."""
    from autostock.feeds import load_market
    from autostock.universe import parse_symbols

    cli: dict[str, Any] = {
        "strategy": kw.get("strategy"),
        "params": parse_pairs(kw.get("params") or (), "--param") or None,
        "data": kw.get("data"),
        "symbols": parse_symbols(kw["symbols"]) if kw.get("symbols") else None,
        "start": kw.get("start"),
        "end": kw.get("end"),
        "cash": kw.get("cash"),
        "slippage": kw.get("slippage"),
        "spread_bps": kw.get("spread_bps"),
        "sizer": kw.get("sizer"),
        "sizer_params": parse_pairs(kw.get("sizer_params") or (), "--sizer-param") or None,
        "benchmark": kw.get("benchmark"),
        "seed": kw.get("seed"),
        "out": kw.get("out"),
    }
    cli.update(parse_commission(kw.get("commission")))
    from autostock.commands.risk import risk_spec_changes

    cli.update(risk_spec_changes(**kw))
    spec = build_spec(kw.get("config_file"), **cli)
    market = load_market(spec.data, spec.symbols, spec.start, spec.end, spec.benchmark, spec.seed)
    if spec.symbols is None:
        spec = spec.replace(symbols=market.symbols)
    return spec, market


def default_out(strategy: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", strategy.rsplit(":", 1)[-1]).strip("_") or "run"
    return Path("reports") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


@click.command()
@backtest_options
@click.option("--out", "-o", type=click.Path(file_okay=False), help="Output folder. [default: reports/<strategy>-<timestamp>/]")
@click.option("--tearsheet/--no-tearsheet", default=True, show_default=True, help="Write the QuantStats HTML tearsheet.")
@click.option("--pyfolio/--no-pyfolio", default=True, show_default=True, help="Write the pyfolio/ folder.")
@click.option("--outputs", "outputs_text", metavar="LIST",
              help="Outputs to write, comma-separated from summary,csv,chart,tearsheet,pyfolio (or all). [default: all]")
@click.option("--track", is_flag=True, help="Log params, metrics and outputs to MLflow (needs the 'tracking' extra).")
def backtest(out: str | None, tearsheet: bool, pyfolio: bool, outputs_text: str | None, track: bool,
             **kw: Any) -> None:
    """Run a backtest and write summary.json, CSVs, equity.png and the tearsheet."""
    from autostock.engine import run_backtest
    from autostock.models.tracking import Tracker
    from autostock.reports.console import print_summary
    from autostock.reports.writer import parse_outputs, write_outputs

    outputs = parse_outputs(outputs_text)
    pyfolio = pyfolio and "pyfolio" in outputs
    spec, market = spec_from_options(out=out, **kw)
    tracker = Tracker(track, "autostock-backtest", run_name=spec.strategy)
    with tracker:
        result = run_backtest(spec, market, pyfolio=pyfolio)
        folder = Path(spec.out) if spec.out else default_out(spec.strategy)
        paths = write_outputs(result, folder, tearsheet=tearsheet, outputs=outputs)
        tracker.log_params({"strategy": spec.strategy, "sizer": spec.sizer, "data": market.source,
                            **{f"param.{k}": v for k, v in result.params.items()}})
        tracker.log_metrics({k: v for k, v in result.metrics.items() if v is not None})
        tracker.log_artifacts(folder)
    print_summary(result, paths)


@click.command()
def strategies() -> None:
    """List every registered strategy with its params and defaults."""
    from rich.console import Console
    from rich.table import Table

    from autostock.registry import STRATEGIES

    table = Table(title="strategies")
    for col in ("name", "source", "params (defaults)", "description"):
        table.add_column(col)
    for name, cls in STRATEGIES.items():
        params = ", ".join(f"{k}={v!r}" for k, v in cls.params._getitems())
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        table.add_row(name, STRATEGIES.source(name), params, doc)
    Console(width=200).print(table)


COMMANDS = [backtest, strategies]
