"""The live CLI end to end against the loopback server: check-connection, trade (SIGTERM exits
0 with state persisted), status, resume, the --live confirmation, and the secret canary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from autostock.cli import cli
from autostock.live.state import StateDB
from tests.live.live_helpers import KEY, SECRET, wait_until

REPO = Path(__file__).resolve().parents[2]


def _env(fake) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        APCA_API_KEY_ID=KEY,
        APCA_API_SECRET_KEY=SECRET,
        APCA_API_BASE_URL=fake.base_url,
        APCA_API_DATA_URL=fake.data_url,
        PYTHONUNBUFFERED="1",
    )
    return env


def _bar(fake, symbol: str, day: str, price: float) -> None:
    fake.push_bar(
        symbol,
        {"t": pd.Timestamp(day, tz="UTC"), "o": price, "h": price + 1, "l": price - 1, "c": price, "v": 1000},
        channel="dailyBars",
    )


def test_check_connection_shows_account_clock_and_bar_with_the_key_masked(alpaca_env):
    fake = alpaca_env
    fake.add_bars(
        "SPY",
        pd.DataFrame(
            {"open": [400.0], "high": [401.0], "low": [399.0], "close": [400.5], "volume": [1e6]},
            index=pd.DatetimeIndex(["2024-05-01"]),
        ),
    )
    out = CliRunner().invoke(cli, ["check-connection", "--symbol", "SPY"])
    assert out.exit_code == 0, out.output
    assert "PKTE****" in out.output and KEY not in out.output and SECRET not in out.output
    assert "buying power" in out.output and "market" in out.output and "c=400.5" in out.output


def test_live_flag_asks_for_confirmation_and_aborts_on_no(alpaca_env, tmp_path):
    out = CliRunner().invoke(
        cli,
        ["trade", "--strategy", "sma_cross", "--symbols", "AAA", "--live", "--state", str(tmp_path / "live.sqlite")],
        input="n\n",
    )
    assert out.exit_code != 0 and "real money" in out.output
    assert not alpaca_env.submit_attempts


def test_live_mode_uses_a_separate_state_database():
    from autostock.live.runner import default_state_path

    assert default_state_path(True) != default_state_path(False)


def test_trade_at_debug_level_stops_on_sigterm_with_exit_0_and_never_shows_the_secret(alpaca_env, tmp_path):
    fake = alpaca_env
    state, log_file = tmp_path / "paper.sqlite", tmp_path / "trade.log"
    cmd = [
        sys.executable,
        "-m",
        "autostock.cli",
        "trade",
        "--strategy",
        "tests.live.live_helpers:BuyEveryBar",
        "--param",
        "size=2",
        "--symbols",
        "AAA,BBB",
        "--state",
        str(state),
        "--log-level",
        "DEBUG",
        "--log-file",
        str(log_file),
        "--backfill",
        "0",
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(fake), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fake.wait_data_subscribed(["AAA", "BBB"], channel="dailyBars", timeout=60)
        fake.wait_trading_listeners(1, timeout=30)
        for sym in ("AAA", "BBB"):
            _bar(fake, sym, "2030-01-02", 50.0)
        wait_until(lambda: len(fake.submit_attempts) == 2, 30, "two orders")
        for o in list(fake.orders.values()):
            fake.fill(o["id"], price=50.0)
        wait_until(lambda: state.exists() and len(StateDB(state).fills()) == 2, 30, "fills recorded")
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr[-2000:]
    assert "stopped (signal SIGTERM)" in stdout
    db = StateDB(state)
    assert {s: p["qty"] for s, p in db.positions().items()} == {"AAA": 2, "BBB": 2}
    assert any(e["kind"] == "stop" for e in db.events(50))
    log_text = log_file.read_text()
    assert "websockets" in log_text and "urllib3" in log_text  # DEBUG really was on
    assert "> TEXT [payload not logged]" in log_text  # the auth frame was logged, without its payload
    status = CliRunner().invoke(cli, ["status", "--state", str(state)])
    blobs = {"stdout": stdout, "stderr": stderr, "log": log_text, "status": status.output}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            blobs[str(path)] = path.read_bytes().decode("latin-1")
    for name, text in blobs.items():
        assert SECRET not in text, f"secret leaked in {name}"
        assert SECRET.encode().hex() not in text.replace(" ", ""), f"hex-encoded secret leaked in {name}"


def test_a_crash_traceback_is_printed_without_the_secret(alpaca_env, tmp_path):
    plugin = tmp_path / "leaky.py"
    plugin.write_text(
        "import os\n"
        "from autostock.strategies.base import BaseStrategy\n"
        "class Leaky(BaseStrategy):\n"
        "    def next(self):\n"
        "        raise RuntimeError('bad strategy saw ' + os.environ['APCA_API_SECRET_KEY'])\n"
    )
    cmd = [
        sys.executable,
        "-m",
        "autostock.cli",
        "trade",
        "--strategy",
        f"{plugin}:Leaky",
        "--symbols",
        "AAA",
        "--state",
        str(tmp_path / "paper.sqlite"),
        "--backfill",
        "0",
        "--log-level",
        "DEBUG",
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=_env(alpaca_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        alpaca_env.wait_data_subscribed(["AAA"], channel="dailyBars", timeout=60)
        _bar(alpaca_env, "AAA", "2030-01-02", 10.0)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1
    assert "Traceback" in stderr and "bad strategy saw ***" in stderr
    assert SECRET not in stdout + stderr
