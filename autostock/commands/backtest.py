"""``autostock backtest`` and ``autostock strategies``; the backtest options other commands reuse."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from autostock.config import RunSpec, build_spec, parse_pairs
from autostock.config import parse_commission as config_parse_commission
from autostock.errors import ConfigError

#: click dest -> the flag, for the flags a mode may refuse
FLAG_NAMES: dict[str, str] = {
    "params": "--param",
    "sizer_params": "--sizer-param",
    "spread_bps": "--spread",
    "config_file": "--config",
    "max_position_weight": "--max-position",
    "sector_cap": "--sector-cap",
}


def parse_commission(text: str | None) -> dict[str, float]:
    """``--commission`` text into the RunSpec cost fields (the settings grammar's commission)."""
    return {} if text is None else config_parse_commission(text, "--commission")


def backtest_options(f: Callable) -> Callable:
    """The options that define a run (strategy, data, costs, sizing, universe and risk limits);
    shared by every mode (backtest, Monte Carlo, walk-forward, optimise, trade)."""
    options = [
        click.option(
            "--strategy", "-s", help="Registered name, path/to/file.py:Class or module:Class. [default: sma_cross]"
        ),
        click.option(
            "--param",
            "-p",
            "params",
            multiple=True,
            metavar="KEY=VALUE",
            help="Strategy param (repeatable), checked against the strategy's params.",
        ),
        click.option(
            "--data",
            "-d",
            help="synthetic (default), sample, yahoo, alpaca, a CSV/Parquet file or folder, "
            "trades:FILE, quotes:FILE, micro-synthetic, SOURCE+news:FILE (docs/microstructure.md).",
        ),
        click.option(
            "--bars", help="Bars from trades: time=5min, tick=N, volume=V or dollar=D (with --data trades:FILE)."
        ),
        click.option(
            "--symbols", help="Comma-separated tickers (AAPL,MSFT) or a universe selector (tier=safe,max=20)."
        ),
        click.option("--start", help="First date (YYYY-MM-DD)."),
        click.option("--end", help="Last date (YYYY-MM-DD)."),
        click.option("--cash", type=float, help="Initial cash. [default: 100000]"),
        click.option("--commission", help="Percent of value (0.1) or per share with a minimum (0.005/share,min=1)."),
        click.option("--slippage", type=float, help="Slippage, percent of price per fill."),
        click.option("--spread", "spread_bps", type=float, help="Bid/ask spread in bps, half charged on each side."),
        click.option(
            "--quote-impact",
            type=float,
            help="Size-based impact of quote fills (bars with quotes): ask * (1 + K * size / ask_size). [default: 0]",
        ),
        click.option("--sizer", help="Sizer name: percent (default), fixed, ..."),
        click.option(
            "--sizer-param", "sizer_params", multiple=True, metavar="KEY=VALUE", help="Sizer param (repeatable)."
        ),
        click.option(
            "--benchmark",
            help="Benchmark symbol (SPY for synthetic data), or equal-weight: the basket of the loaded symbols.",
        ),
        click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file."),
        click.option("--seed", type=int, help="Seed for synthetic data and anything random. [default: 42]"),
    ]
    from autostock.commands.risk import risk_options

    f = risk_options(f)
    for option in reversed(options):
        f = option(f)
    return f


@contextmanager
def flags_for(*params: str) -> Iterator[None]:
    """Name the flag in a library error about one of ``params`` (``workers must ...`` -> ``--workers must ...``).

    The library speaks of parameters; only the CLI knows them as flags.
    """
    try:
        yield
    except ConfigError as exc:
        text = str(exc)
        for name in params:
            if text.startswith((f"{name} ", f"{name}=")):
                raise ConfigError(f"--{name.replace('_', '-')}{text[len(name) :]}") from None
        raise


def refuse_unused(kw: dict[str, Any], unused: tuple[str, ...], mode: str) -> None:
    """One line for the first flag in ``unused`` (click dests) that was given: ``mode`` does not use it."""
    for name in unused:
        value = kw.get(name)
        if value is not None and value != () and value is not False:
            flag = FLAG_NAMES.get(name, "--" + name.replace("_", "-"))
            raise ConfigError(f"{flag} is not used by {mode}; remove it")


def cli_settings(**kw: Any) -> dict[str, Any]:
    """The settings the backtest options gave (``None`` = not given), for :func:`build_spec`.

    Values stay raw: :func:`autostock.config.build_spec` reads every source by one grammar.
    """
    data = kw.get("data")
    if kw.get("bars"):
        if not data or not str(data).startswith(("trades:", "quotes:", "micro-synthetic")):
            raise ConfigError("--bars needs --data trades:FILE (or quotes:FILE, micro-synthetic)")
        data = f"{data}@{kw['bars']}"
    cli: dict[str, Any] = {
        "strategy": kw.get("strategy"),
        "params": parse_pairs(kw.get("params") or (), "--param") or None,
        "data": data,
        "symbols": kw.get("symbols") or None,
        "start": kw.get("start"),
        "end": kw.get("end"),
        "cash": kw.get("cash"),
        "commission": kw.get("commission"),
        "slippage": kw.get("slippage"),
        "spread_bps": kw.get("spread_bps"),
        "quote_impact": kw.get("quote_impact"),
        "sizer": kw.get("sizer"),
        "sizer_params": parse_pairs(kw.get("sizer_params") or (), "--sizer-param") or None,
        "benchmark": kw.get("benchmark"),
        "seed": kw.get("seed"),
        "out": kw.get("out"),
    }
    from autostock.commands.risk import risk_spec_changes

    cli.update(risk_spec_changes(**kw))
    return cli


def check_out_dir(path: str | Path | None, flag: str = "--out") -> None:
    """Refuse an output folder that cannot be created or written, before any run starts."""
    if path is None:
        return
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{flag} {path}: is a file, not a folder")
    probe = target
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConfigError(f"{flag} {path}: {probe} is a file, so the folder cannot be created under it")
    unwritable = ConfigError(f"{flag} {path}: {probe} is not writable (read-only location or no permission)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise unwritable
    try:  # the only sure test (root ignores permissions, a read-only disk does not)
        os.rmdir(tempfile.mkdtemp(prefix=".autostock-probe-", dir=probe))
    except OSError:
        raise unwritable from None


def check_dates_in_data(spec: RunSpec) -> None:
    """A start after the synthetic market's last date (it has no bars to load) is one line."""
    if spec.data != "synthetic" or not spec.start:
        return
    from autostock.feeds.synthetic import DEFAULT_END, DEFAULT_START

    end = spec.end or DEFAULT_END
    if spec.start[:10] > end[:10]:
        raise ConfigError(f"start {spec.start} is after the synthetic data's range ({DEFAULT_START} to {end})")


def spec_from_options(**kw: Any) -> tuple[RunSpec, Any]:
    """Build the RunSpec (defaults < config < env < flags) and load its validated market."""
    from autostock.feeds import load_market

    spec = build_spec(kw.get("config_file"), **cli_settings(**kw))
    check_out_dir(spec.out)
    check_dates_in_data(spec)
    market = load_market(spec.data, spec.symbols, spec.start, spec.end, spec.benchmark, spec.seed)
    empty = [s for s, bars in market.bars.items() if bars.empty]
    if empty:
        raise ConfigError(f"no bars for {', '.join(empty)} between {spec.start or 'start'} and {spec.end or 'end'}")
    if spec.symbols is None:
        spec = spec.replace(symbols=market.symbols)
    return spec, market


def default_out(strategy: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", strategy.rsplit(":", 1)[-1]).strip("_") or "run"
    return Path("reports") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


@click.command()
@backtest_options
@click.option(
    "--out", "-o", type=click.Path(file_okay=False), help="Output folder. [default: reports/<strategy>-<timestamp>/]"
)
@click.option(
    "--tearsheet/--no-tearsheet", default=True, show_default=True, help="Write the QuantStats report tearsheet.html."
)
@click.option("--pyfolio/--no-pyfolio", default=True, show_default=True, help="Write the pyfolio/ folder.")
@click.option(
    "--outputs",
    "outputs_text",
    metavar="LIST",
    help="Outputs to write, comma-separated from summary,csv,chart,tearsheet,pyfolio (or all; the pages "
    "are HTML, their charts drawn by the browser), plus the slower matplotlib pictures, never part of all: "
    "chart_png (equity.png), pyfolio_png (pyfolio/returns_tear_sheet.png), pyfolio_native (pyfolio's own "
    "tear sheet) and tearsheet_native (QuantStats' own HTML page). [default: all]",
)
@click.option("--track", is_flag=True, help="Log params, metrics and outputs to MLflow (needs the 'tracking' extra).")
def backtest(out: str | None, tearsheet: bool, pyfolio: bool, outputs_text: str | None, track: bool, **kw: Any) -> None:
    """Run a backtest and write summary.json, CSVs, equity.html, the tearsheet and the pyfolio folder."""
    from autostock.engine import run_backtest
    from autostock.models.tracking import Tracker
    from autostock.reports.console import print_summary
    from autostock.reports.writer import parse_outputs, write_outputs

    outputs = parse_outputs(outputs_text)
    if not pyfolio:
        outputs = tuple(o for o in outputs if not o.startswith("pyfolio"))
    pyfolio = any(o.startswith("pyfolio") for o in outputs)
    spec, market = spec_from_options(out=out, **kw)
    tracker = Tracker(track, "autostock-backtest", run_name=spec.strategy)
    with tracker:
        result = run_backtest(spec, market, pyfolio=pyfolio)
        folder = Path(spec.out) if spec.out else default_out(spec.strategy)
        paths = write_outputs(result, folder, tearsheet=tearsheet, outputs=outputs)
        tracker.log_params(
            {
                "strategy": spec.strategy,
                "sizer": spec.sizer,
                "data": market.source,
                **{f"param.{k}": v for k, v in result.params.items()},
            }
        )
        tracker.log_metrics({k: v for k, v in result.metrics.items() if v is not None})
        tracker.log_artifacts(folder)
    print_summary(result, paths)


@click.command()
def strategies() -> None:
    """List every registered strategy with its params and defaults."""
    from rich.console import Console
    from rich.table import Table

    from autostock.context import RESERVED_PARAMS
    from autostock.registry import STRATEGIES

    table = Table(title="strategies")
    for col in ("name", "source", "params (defaults)", "description"):
        table.add_column(col)
    for name, cls in STRATEGIES.items():
        params = ", ".join(f"{k}={v!r}" for k, v in cls.params._getitems() if k not in RESERVED_PARAMS)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        table.add_row(name, STRATEGIES.source(name), params, doc)
    Console(width=200).print(table)


COMMANDS = [backtest, strategies]
