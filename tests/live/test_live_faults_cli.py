"""Fault injection with real processes and the CLI (issue 10): one process per state file and
account, SIGTERM during a 429 storm, bad input for trade/status, the alpaca-py fence."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.live.state import StateDB
from tests.live.live_helpers import wait_until
from tests.live.test_live_cli import REPO, _env

TRADE = [
    sys.executable,
    "-m",
    "autostock.cli",
    "trade",
    "--strategy",
    "tests.live.live_helpers:BuyEveryBar",
    "--symbols",
    "AAA",
    "--backfill",
    "0",
]


def _spawn(fake, state: Path, lock_dir: Path) -> subprocess.Popen:
    env = _env(fake)
    env["AUTOSTOCK_LOCK_DIR"] = str(lock_dir)
    return subprocess.Popen(
        TRADE + ["--state", str(state)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)


# -- 5. one process per state file and account -----------------------------------------------


@pytest.mark.slow
def test_second_trade_on_the_same_state_or_account_refuses_naming_the_pid_and_kill_9_frees_it(alpaca_env, tmp_path):
    fake = alpaca_env
    state, locks = tmp_path / "paper.sqlite", tmp_path / "locks"
    first = _spawn(fake, state, locks)
    others: list[subprocess.Popen] = []
    try:
        fake.wait_trading_listeners(1, timeout=60)
        same_state = _spawn(fake, state, locks)
        others.append(same_state)
        _, err = same_state.communicate(timeout=60)
        assert same_state.returncode == 2
        assert err.strip().count("\n") == 0 and "Traceback" not in err
        assert f"in use by autostock process {first.pid}" in err and "paper.sqlite" in err
        other_state = _spawn(fake, tmp_path / "other.sqlite", locks)  # same account, other file
        others.append(other_state)
        _, err = other_state.communicate(timeout=60)
        assert other_state.returncode == 2 and "Alpaca account" in err and f"process {first.pid}" in err
        assert not (tmp_path / "other.sqlite").exists()
        assert fake.stream_clients("trading") == 1
    finally:
        for p in others:
            _reap(p)
        first.send_signal(signal.SIGKILL)
        _reap(first)
    from autostock.live.lock import state_lock

    with state_lock(state):  # kill -9 released it
        pass


# -- 7. SIGTERM during a 429 storm -------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_during_a_429_storm_stops_within_two_seconds(alpaca_env, tmp_path):
    fake = alpaca_env
    fake.rate_limit_per_minute, fake.rate_limit_window_s = 3, 60.0  # every later request: 429, reset ~60 s
    proc = _spawn(fake, tmp_path / "paper.sqlite", tmp_path / "locks")
    try:
        wait_until(lambda: fake.rate_limited_count >= 1, 60, "the 429 storm")
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        line = proc.stdout.readline()  # printed once the session has stopped and saved its state
        stopped_after = time.monotonic() - t0
        _, err = proc.communicate(timeout=30)
    finally:
        _reap(proc)
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "stopped (signal SIGTERM)" in line
    # the session stops within 2 s; the interpreter's own teardown of its modules comes after
    assert stopped_after < 2.0, f"took {stopped_after:.1f}s to stop"


# -- 10. bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("flag", [["--commission", "0.1"], ["--slippage", "0.05"], ["--spread", "5"]])
def test_backtest_cost_flags_given_to_trade_are_refused_in_one_line(alpaca_env, tmp_path, flag):
    out = CliRunner().invoke(
        cli,
        [
            "trade",
            "--strategy",
            "sma_cross",
            "--symbols",
            "AAA",
            "--state",
            str(tmp_path / "s" / "paper.sqlite"),
            *flag,
        ],
    )
    assert out.exit_code == 2 and f"{flag[0]} is not used by trade" in out.output
    assert "Traceback" not in out.output and not (tmp_path / "s").exists()
    assert not alpaca_env.requests


def test_trade_without_keys_writes_nothing_and_status_says_no_run_happened(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    out = CliRunner().invoke(cli, ["trade", "--strategy", "sma_cross", "--symbols", "AAA"])
    assert out.exit_code == 2 and "APCA_API_KEY_ID" in out.output
    assert list(tmp_path.iterdir()) == []  # no state/ folder, no database, no lock file
    status = CliRunner().invoke(cli, ["status"])
    assert status.exit_code == 2 and "no state database" in status.output and "allowed" not in status.output


def test_status_of_a_database_no_session_ran_on_does_not_claim_trading_allowed(tmp_path):
    path = tmp_path / "paper.sqlite"
    StateDB(path).close()
    out = CliRunner().invoke(cli, ["status", "--state", str(path)])
    assert out.exit_code == 0 and "no trading session has run" in out.output and "allowed" not in out.output


@pytest.mark.parametrize("command", ["status", "trade"])
def test_a_corrupt_state_database_is_one_line_and_exit_2(alpaca_env, tmp_path, command):
    path = tmp_path / "paper.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    args = [command, "--state", str(path)]
    if command == "trade":
        args += ["--strategy", "sma_cross", "--symbols", "AAA", "--backfill", "0"]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 2, out.output
    errors = [line for line in out.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "corrupt" in errors[0] and str(path) in errors[0]
    assert "Traceback" not in out.output
    assert not alpaca_env.submit_attempts


def test_a_read_only_state_database_for_trade_is_one_line_and_exit_2(alpaca_env, tmp_path, monkeypatch):
    import autostock.live.state as state_mod

    path = tmp_path / "paper.sqlite"
    StateDB(path).close()
    real = state_mod._connect
    monkeypatch.setattr(state_mod, "_connect", lambda p, readonly: real(p, True))  # as on a read-only disk
    out = CliRunner().invoke(
        cli, ["trade", "--strategy", "sma_cross", "--symbols", "AAA", "--state", str(path), "--backfill", "0"]
    )
    assert out.exit_code == 2, out.output
    assert "read-only" in out.output and "Traceback" not in out.output
    assert not alpaca_env.submit_attempts


def test_a_full_state_database_raises_a_one_line_state_error(tmp_path):
    from autostock.live.state import StateError

    db = StateDB(tmp_path / "paper.sqlite")
    pages = db._conn.execute("PRAGMA page_count").fetchone()[0]
    db._conn.execute(f"PRAGMA max_page_count={pages}")  # no room left, as on a full disk
    with pytest.raises(StateError, match="disk full"):
        db.event("note", "x" * 50_000)
    assert isinstance(StateError("x"), Exception) and not isinstance(StateError("x"), sqlite3.Error)


# -- 11. alpaca-py private attributes fenced ---------------------------------------------------


def test_another_alpaca_py_version_is_refused_in_one_line():
    from autostock.errors import ConfigError
    from autostock.live.alpaca_compat import check_version

    check_version("0.44.0")
    with pytest.raises(ConfigError, match=r"alpaca-py 0\.45\.1 is installed.*alpaca-py>=0\.44,<0\.45"):
        check_version("0.45.1")


def test_only_the_compat_module_touches_alpaca_py_private_attributes():
    import re

    live = Path(__file__).resolve().parents[2] / "autostock" / "live"
    pattern = re.compile(
        r"\._(session|retry|loop|ws|start_ws|reconnect_min_backoff|reconnect_max_backoff)\b|"
        r"[\"'](_session|_retry|_loop|_ws|_start_ws)[\"']"
    )
    offenders = [p.name for p in live.glob("*.py") if p.name != "alpaca_compat.py" and pattern.search(p.read_text())]
    assert offenders == []
