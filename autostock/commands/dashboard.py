"""``autostock dashboard`` (the Streamlit monitor) and ``autostock divergence`` (live vs backtest)."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import click

from autostock.errors import UserError

DASHBOARD_EXTRA = ("streamlit", "plotly")


def require_dashboard_extra() -> None:
    """One line naming the extra when Streamlit (or plotly) is not installed."""
    missing = [m for m in DASHBOARD_EXTRA if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(
            f"the dashboard needs the 'dashboard' extra ({', '.join(missing)} missing): "
            "pip install 'autostock[dashboard]'"
        )


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line of the app (headless, no telemetry, no file watcher)."""
    app = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--server.runOnSave",
        "false",
    ]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


@click.command()
@click.option(
    "--state",
    default="state/paper.sqlite",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="State database of `autostock trade` (opened read-only).",
)
@click.option(
    "--reports",
    default="reports",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder of report folders (backtest, montecarlo, optimize, walkforward, train).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but loopback exposes the dashboard (and its Halt button).",
)
@click.option(
    "--refresh",
    type=click.FloatRange(0.5, 3600),
    default=3.0,
    show_default=True,
    help="Seconds between live-page refreshes.",
)
def dashboard(state: str, reports: str, port: int, host: str, refresh: float) -> None:
    """Start the Streamlit monitor: live account, backtests, robustness and model reports."""
    require_dashboard_extra()
    if not _port_free(host, port):
        raise UserError(f"port {port} on {host} is in use: pass another --port")
    env = dict(os.environ)
    env.update(
        {
            "AUTOSTOCK_DASHBOARD_STATE": str(Path(state).resolve()),
            "AUTOSTOCK_DASHBOARD_REPORTS": str(Path(reports).resolve()),
            "AUTOSTOCK_DASHBOARD_REFRESH": str(refresh),
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        }
    )
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if not Path(state).is_file():
        click.echo(f"note: no state database at {state} yet; the live page says so until one appears")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: anyone who can reach it can see the account and halt trading")
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    proc = subprocess.Popen(
        streamlit_command(host, port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    stopping: dict[str, Any] = {}

    def stop(signum: int, frame: Any) -> None:
        stopping["signal"] = signal.Signals(signum).name
        if proc.poll() is None:
            proc.terminate()

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        click.echo(f"dashboard: {url} (state {state}, reports {reports}); Ctrl-C stops it")
        if _wait_ready(url, proc):
            click.echo("ready")
        try:
            _, err = proc.communicate()
        except KeyboardInterrupt:
            proc.terminate()
            _, err = proc.communicate(timeout=10)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if proc.poll() is None:
            proc.kill()
    if "signal" in stopping:
        click.echo(f"dashboard stopped ({stopping['signal']})")
        return
    if proc.returncode:
        from autostock.dashboard.data import register_env_secrets
        from autostock.live import secrets

        register_env_secrets()
        tail = (err or "").strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"streamlit exited with code {proc.returncode}: {secrets.scrub(tail[0])[:300]}")


@click.command()
@click.option("--state", required=True, type=click.Path(dir_okay=False), help="State database of the live session.")
@click.option(
    "-d",
    "--data",
    "source",
    required=True,
    help="The bars the session traded: a CSV/Parquet file or folder, or alpaca.",
)
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--start", help="First live bar (YYYY-MM-DD). [default: the bar of the first live order]")
@click.option("--end", help="Last bar compared (YYYY-MM-DD).")
@click.option("-s", "--strategy", help="Strategy (default: the one the session recorded).")
@click.option(
    "-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help="Strategy param (default: the session's)."
)
@click.option("--timeframe", help="Bar size of the session (default: recorded, else 1Day).")
def divergence(
    state: str,
    source: str,
    out: str,
    start: str | None,
    end: str | None,
    strategy: str | None,
    params: tuple[str, ...],
    timeframe: str | None,
) -> None:
    """Replay a live session's bars in a backtest; write divergence.csv and divergence.png."""
    from autostock.config import parse_pairs
    from autostock.dashboard import divergence as dv
    from autostock.feeds import load_market

    live = dv.read_live(state)
    if not len(live.orders):
        raise UserError(f"{state} holds no orders: nothing to compare")
    symbols = live.session.get("symbols") or sorted(live.orders["symbol"].unique())
    market = load_market(source, list(symbols))
    override: dict[str, Any] = {"strategy": strategy, "timeframe": timeframe}
    if params:
        override["params"] = parse_pairs(params, "--param")
    div = dv.divergence(state, market.bars, session=override, start=start, end=end)
    files = dv.write(div, out)
    s = div.summary()
    click.echo(
        f"{s['orders_live']} live orders, {s['orders_backtest']} backtest orders: {s['matched']} matched, "
        f"{s['qty_differs']} qty differs, {s['live_only']} live only, {s['backtest_only']} backtest only"
    )
    if s["fills_compared"]:
        click.echo(
            f"slippage over {s['fills_compared']} fill(s): mean {s['mean_slippage_bps']:.1f} bps, "
            f"max |{s['max_abs_slippage_bps']:.1f}| bps (+ = live worse)"
        )
    click.echo(f"wrote {files['csv']}, {files['png']}")


COMMANDS = [dashboard, divergence]
