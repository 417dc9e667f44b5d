"""``autostock check-connection``, ``trade``, ``status`` and ``resume``: paper and live trading.

Keys come from ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` (environment or ``.env``);
endpoints from ``APCA_API_BASE_URL`` and ``APCA_API_DATA_URL``. Paper is the default; ``--live``
trades real money after a confirmation (skipped with ``--yes``) and uses its own state database.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from autostock.commands.backtest import backtest_options
from autostock.errors import UserError
from autostock.extras import extra_for_missing


def _guarded(f: Callable) -> Callable:
    """Scrub secrets from user-error lines and print any other failure as a scrubbed traceback."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from autostock.live import secrets

        try:
            return f(*args, **kwargs)
        except (UserError, click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except SystemExit:
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence for secrets
            missing = extra_for_missing(exc)  # alpaca-py not installed: one line naming the extra
            if missing is not None:
                raise missing from None
            click.echo(secrets.scrub_exception(exc), err=True, nl=False)
            raise click.exceptions.Exit(1) from None

    return wrapper


def _logging(level: str, log_file: str | None) -> None:
    from autostock.live import secrets

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        handlers=handlers,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    secrets.install_scrubber()
    flt = secrets.ScrubFilter()
    for h in handlers:
        h.addFilter(flt)


def _state_path(live: bool, state: str | None) -> str:
    from autostock.live.runner import default_state_path

    return state or str(default_state_path(live))


live_flag = click.option("--live", is_flag=True, help="Real-money account (default: paper).")
state_option = click.option(
    "--state",
    "state",
    type=click.Path(dir_okay=False),
    help="State database. [default: state/paper.sqlite, state/live.sqlite with --live]",
)
log_options = [
    click.option(
        "--log-level",
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
        default="INFO",
        show_default=True,
    ),
    click.option("--log-file", type=click.Path(dir_okay=False), help="Also write the log here (secrets scrubbed)."),
]


def _with(options: list) -> Callable:
    def deco(f: Callable) -> Callable:
        for o in reversed(options):
            f = o(f)
        return f

    return deco


@click.command("check-connection")
@live_flag
@click.option("--symbol", default="SPY", show_default=True, help="Symbol for the latest bar.")
@_with(log_options)
@_guarded
def check_connection(live: bool, symbol: str, log_level: str, log_file: str | None) -> None:
    """Account status, buying power, market clock and the latest bar (key masked)."""
    from autostock.live import secrets
    from autostock.live.store import AlpacaStore, Credentials

    _logging(log_level if log_level.upper() != "INFO" else "WARNING", log_file)
    creds = Credentials.from_env(live=live)
    store = AlpacaStore(creds)
    try:
        acct = store.account()
        clock = store.clock()
        bars = store.latest_bars([symbol.upper()])
    except Exception as exc:
        raise UserError(
            f"cannot reach Alpaca at {creds.base_url}: {secrets.scrub(str(exc)).splitlines()[0][:200]}"
        ) from None
    bar = bars.get(symbol.upper())
    click.echo(f"endpoint      {creds.base_url} ({'LIVE' if live else 'paper'})")
    click.echo(f"key           {secrets.mask(creds.key_id)}")
    click.echo(
        f"account       {acct.get('account_number', '?')} status={acct.get('status')}"
        f"{' TRADING BLOCKED' if acct.get('trading_blocked') else ''}"
    )
    click.echo(f"equity        {float(acct.get('equity') or 0):,.2f}")
    click.echo(f"buying power  {float(acct.get('buying_power') or 0):,.2f}")
    click.echo(
        f"market        {'open' if clock.get('is_open') else 'closed'} (now {clock.get('timestamp')}, "
        f"next open {clock.get('next_open')}, next close {clock.get('next_close')})"
    )
    if bar:
        click.echo(
            f"latest bar    {symbol.upper()} {bar.get('t')} o={bar.get('o')} h={bar.get('h')} "
            f"l={bar.get('l')} c={bar.get('c')} v={bar.get('v')}"
        )
    else:
        click.echo(f"latest bar    {symbol.upper()}: none")


#: backtest options a live run does not use: Alpaca supplies the data, the dates and the costs
TRADE_UNUSED: tuple[str, ...] = (
    "data",
    "start",
    "end",
    "benchmark",
    "commission",
    "slippage",
    "spread_bps",
    "quote_impact",
)


@click.command()
@backtest_options
@live_flag
@click.option("--yes", is_flag=True, help="Skip the --live confirmation.")
@state_option
@click.option("--run-id", help="Stable id of this run (part of every client_order_id). [default: from the config]")
@click.option("--timeframe", default="1Day", show_default=True, help="Bar size: 1Day, 1Min, 5Min, 15Min, 1Hour.")
@click.option("--backfill", type=int, default=250, show_default=True, help="History bars for the warm-up.")
@click.option("--tif", default="day", show_default=True, help="Time in force: day, gtc, opg, cls, ioc, fok.")
@click.option("--fractional", is_flag=True, help="Send fractional quantities.")
@click.option("--max-order-notional", type=float, help="Kill switch: largest order in dollars.")
@click.option("--max-position-value", type=float, help="Kill switch: largest position per symbol in dollars.")
@click.option(
    "--max-orders-per-minute",
    type=int,
    default=30,
    show_default=True,
    help="More orders than this in 60 s halts trading.",
)
@click.option("--halt-file", type=click.Path(dir_okay=False), help="Trading halts while this file exists.")
@_with(log_options)
@_guarded
def trade(
    live: bool,
    yes: bool,
    state: str | None,
    run_id: str | None,
    timeframe: str,
    backfill: int,
    tif: str,
    fractional: bool,
    max_order_notional: float | None,
    max_position_value: float | None,
    max_orders_per_minute: int,
    halt_file: str | None,
    log_level: str,
    log_file: str | None,
    **kw: Any,
) -> None:
    """Trade a strategy on Alpaca: paper by default, real money with --live.

    The strategy, sizer and risk options are the backtest's. --max-drawdown also arms the live
    kill switch: cancel every order, close every position and halt until `autostock resume`.
    """
    from autostock.commands.backtest import cli_settings, refuse_unused
    from autostock.config import build_spec
    from autostock.live.killswitch import SafetyLimits
    from autostock.live.runner import LiveSettings, TradingSession

    _logging(log_level, log_file)
    # the same settings path as every command; the flags a live run cannot honour are refused
    refuse_unused(kw, TRADE_UNUSED, "trade")
    spec = build_spec(kw.get("config_file"), **{**cli_settings(**kw), "data": "alpaca"})
    if not spec.symbols:
        raise UserError("trade needs --symbols, e.g. --symbols AAPL,MSFT (or a universe selector)")
    limits = SafetyLimits(
        max_drawdown=spec.risk_settings().max_drawdown,
        max_order_notional=max_order_notional,
        max_position=max_position_value,
        max_orders_per_minute=max_orders_per_minute,
        halt_file=halt_file,
    )
    if live and not yes:
        click.confirm(
            f"LIVE trading with real money: {spec.strategy} on {','.join(spec.symbols)}. Continue?", abort=True
        )
    settings = LiveSettings(
        live=live,
        state_path=_state_path(live, state),
        run_id=run_id,
        timeframe=timeframe,
        backfill=backfill,
        tif=tif,
        fractional=fractional,
        limits=limits,
    )
    session = TradingSession(spec, settings)
    code = session.run()
    click.echo(f"stopped ({session.stop_reason or 'feeds ended'}); state in {settings.state_path}")
    if code:
        raise click.exceptions.Exit(code)


@click.command()
@live_flag
@state_option
@click.option("--events", "n_events", type=int, default=15, show_default=True, help="How many recent events.")
@_guarded
def status(live: bool, state: str | None, n_events: int) -> None:
    """Positions, open orders, equity and recent events from the state database."""
    from pathlib import Path

    from autostock.live.state import StateDB

    path = _state_path(live, state)
    if not Path(path).is_file():
        raise UserError(f"no state database at {path}: nothing has traded in {'live' if live else 'paper'} mode yet")
    db = StateDB(path, readonly=True)
    halt = db.halted()
    sessions = db.events(1, kind="start")
    click.echo(f"state      {path} ({'LIVE' if live else 'paper'})")
    if halt:
        click.echo(f"trading    HALTED: {halt}")
    elif not sessions:
        click.echo("trading    no trading session has run on this database yet")
    else:
        click.echo("trading    allowed")
    eq = db.last_equity()
    if eq:
        when = datetime.fromtimestamp(eq["ts"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        click.echo(
            f"equity     {eq['equity']:,.2f} (cash {eq['cash']:,.2f}, peak {db.equity_peak() or 0:,.2f}) at {when}"
        )
    click.echo("positions")
    for sym, p in db.positions().items() or {}.items():
        click.echo(f"  {sym:<8} {p['qty']:>12g} @ {p['avg_price']:.2f}")
    if not db.positions():
        click.echo("  none")
    click.echo("open orders")
    rows = db.open_orders()
    for r in rows:
        click.echo(
            f"  {r['cid']} {r['symbol']} {r['side']} {r['qty']:g} {r['type']} {r['status']} filled {r['filled_qty']:g}"
        )
    if not rows:
        click.echo("  none")
    click.echo("recent events")
    for e in db.events(n_events):
        when = datetime.fromtimestamp(e["ts"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"  {when} {e['level']:<7} {e['kind']:<10} {e['message']}")


@click.command()
@live_flag
@state_option
@click.option("--halt-file", type=click.Path(dir_okay=False), help="Also remove this halt file.")
@_guarded
def resume(live: bool, state: str | None, halt_file: str | None) -> None:
    """Clear a trading halt (kill switch, halt file or reconciliation mismatch)."""
    from pathlib import Path

    from autostock.live.state import StateDB

    path = _state_path(live, state)
    if not Path(path).is_file():
        raise UserError(f"no state database at {path}")
    db = StateDB(path)
    if halt_file and Path(halt_file).exists():
        Path(halt_file).unlink()
        click.echo(f"removed halt file {halt_file}")
    reason = db.resume()
    click.echo(f"halt cleared (was: {reason})" if reason else "trading was not halted")


COMMANDS = [check_connection, trade, status, resume]
