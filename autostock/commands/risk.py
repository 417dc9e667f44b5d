"""``autostock universe``, and the risk options every run command shares (:func:`risk_options`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from autostock.errors import ConfigError


def _defaults() -> Any:
    from autostock.risk.settings import DEFAULTS

    return DEFAULTS


def risk_options(f: Callable) -> Callable:
    """Click options for the universe selector and the risk settings (backtest, trade, Monte
    Carlo, optimise). Read them back with :func:`risk_settings_from_options` and
    :func:`universe_from_options`; options not given are ``None`` (the config file decides)."""
    options = [
        click.option(
            "--universe",
            "universe",
            metavar="SELECTOR",
            help="Symbols from the universe, e.g. tier=safe,max=20 or sector=Technology+Healthcare "
            "(keys: sector, tier, vol, max; 'all'). See `autostock universe`.",
        ),
        click.option("--stop-loss", type=float, help="Protective stop, fraction below the entry price (0.05)."),
        click.option("--take-profit", type=float, help="Take-profit limit, fraction above the entry price (0.10)."),
        click.option("--trailing-stop", type=float, help="Trailing stop, fraction below the best price since entry."),
        click.option(
            "--max-drawdown",
            type=float,
            help="Kill switch: at this drawdown from the peak flatten everything, no new entries (0.15).",
        ),
        click.option(
            "--cool-off", type=int, help="Bars after a kill-switch event before entries resume (default: never)."
        ),
        click.option(
            "--max-leverage",
            type=float,
            help=f"Max gross exposure / equity. [default: {_defaults().max_leverage} with risk settings]",
        ),
        click.option(
            "--max-position",
            "max_position_weight",
            type=float,
            help="Max weight of one position, fraction of equity (0.10).",
        ),
        click.option(
            "--sector-caps",
            is_flag=True,
            default=None,
            help="Apply the default sector caps (Technology 30%, Healthcare 20%, Financials 20%, ETF 15%, others 15%).",
        ),
        click.option(
            "--sector-cap",
            "sector_cap",
            multiple=True,
            metavar="SECTOR=W",
            help="Cap one sector (repeatable; implies --sector-caps), e.g. Technology=0.25 or other=0.1.",
        ),
        click.option(
            "--correlation-limit",
            metavar="RHO|off",
            help="Refuse (or reduce) entries whose rolling correlation with the book exceeds RHO. "
            f"[default: {_defaults().correlation_limit}]",
        ),
        click.option(
            "--correlation-window",
            type=int,
            help=f"Bars of returns for the correlation. [default: {_defaults().correlation_window}]",
        ),
        click.option(
            "--correlation-action",
            type=click.Choice(["refuse", "reduce"]),
            default=None,
            help=f"What the correlation limit does to an order. [default: {_defaults().correlation_action}]",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


RISK_KEYS: tuple[str, ...] = (
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "max_drawdown",
    "cool_off",
    "max_leverage",
    "max_position_weight",
    "correlation_window",
    "correlation_action",
)


def risk_settings_from_options(**kwargs: Any) -> dict[str, Any]:
    """The raw ``spec.risk`` table from :func:`risk_options` values (only the options given).

    Unrelated keyword arguments are ignored, so a command can pass all of its options. Values
    are read by the settings grammar but validated once, with the config file's ``[risk]``
    table they are merged over, when the spec is built (:func:`autostock.config.build_spec`).
    """
    from autostock.config import parse_pairs, parse_value

    out: dict[str, Any] = {k: kwargs[k] for k in RISK_KEYS if kwargs.get(k) is not None}
    limit = kwargs.get("correlation_limit")
    if limit is not None:
        value = parse_value(str(limit))
        if value is None or value is False or str(limit).strip().lower() == "off":
            out["correlation_limit"] = "off"
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out["correlation_limit"] = float(value)
        else:
            raise ConfigError(f"--correlation-limit {limit!r}: expected a number in [-1, 1] or off")
    pairs = kwargs.get("sector_cap") or ()
    if pairs:
        out["sector_caps"] = parse_pairs(pairs, "--sector-cap")
    elif kwargs.get("sector_caps"):
        out["sector_caps"] = True
    return out


def universe_from_options(**kwargs: Any) -> list[str] | None:
    """Symbols chosen by ``--universe`` (``None`` when not given); ``--symbols`` with it is an error."""
    from autostock.universe import select

    selector = kwargs.get("universe")
    if not selector:
        return None
    if kwargs.get("symbols"):
        raise ConfigError("give either --symbols or --universe, not both")
    return select(selector)


def risk_spec_changes(**kwargs: Any) -> dict[str, Any]:
    """RunSpec fields set by :func:`risk_options` (``risk``, ``symbols``), for ``build_spec``."""
    changes: dict[str, Any] = {}
    risk = risk_settings_from_options(**kwargs)
    if risk:
        changes["risk"] = risk
    symbols = universe_from_options(**kwargs)
    if symbols:
        changes["symbols"] = symbols
    return changes


@click.command()
@click.option("--sector", multiple=True, help="Sector (repeatable), e.g. Technology.")
@click.option("--tier", multiple=True, help="Risk tier (repeatable): safe, growth, aggressive, ETF.")
@click.option("--vol", multiple=True, help="Volatility tier (repeatable): Low, Medium, High.")
@click.option("--max", "max_count", type=int, help="At most N symbols, round-robin across sectors.")
@click.option("--select", "selector", metavar="SELECTOR", help="A --universe selector instead, e.g. tier=safe,max=20.")
@click.option("--symbols-only", is_flag=True, help="Print the comma-separated symbols only (for --symbols).")
@click.option("--caps", is_flag=True, help="Also list the default sector caps.")
def universe(
    sector: tuple[str, ...],
    tier: tuple[str, ...],
    vol: tuple[str, ...],
    max_count: int | None,
    selector: str | None,
    symbols_only: bool,
    caps: bool,
) -> None:
    """List the symbol universe with sectors, volatility and risk tiers, filtered."""
    from autostock import universe as uni

    if selector and (sector or tier or vol or max_count):
        raise ConfigError("give either --select or --sector/--tier/--vol/--max, not both")
    if max_count is not None and max_count < 1:
        raise ConfigError(f"--max must be >= 1, got {max_count}")
    if selector:
        kwargs = uni.parse_selector(selector)
        assets = uni.filter_universe(**kwargs)  # type: ignore[arg-type]
    else:
        assets = uni.filter_universe(sector or None, tier or None, vol or None, max_count)
    if symbols_only:
        click.echo(",".join(a.symbol for a in assets))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"universe: {len(assets)} symbols")
    for col in ("symbol", "name", "sector", "volatility", "risk tier"):
        table.add_column(col)
    for a in assets:
        table.add_row(a.symbol, a.name, a.sector, a.volatility, a.risk_tier)
    console = Console(width=max(100, Console().width))
    console.print(table)
    if caps:
        cap_table = Table(title="default sector caps (fraction of equity)")
        cap_table.add_column("sector")
        cap_table.add_column("cap", justify="right")
        for name, value in uni.DEFAULT_SECTOR_CAPS.items():
            cap_table.add_row(name, f"{value:.0%}")
        console.print(cap_table)


COMMANDS = [universe]
