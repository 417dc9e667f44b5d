"""Fixtures for the dashboard tests: report folders written by the real commands (tiny sizes)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.config import RunSpec
from autostock.live.state import StateDB
from tests.dashboard.helpers import OPEN, SLIP
from tests.live.fake_alpaca import FakeAlpaca
from tests.live.live_helpers import (
    KEY,
    SECRET,
    SessionThread,
    daily_bars,
    push_daily,
    wait_until,
)


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "browser: drives the dashboard in headless Chromium (skips without it)")


@pytest.fixture(scope="session")
def live_session(tmp_path_factory):
    """A paper session of sma_cross on two symbols, traded through the loopback server, every fill
    10 bps worse than the next open the backtest fills at."""
    tmp = tmp_path_factory.mktemp("live")
    fake = FakeAlpaca(key_id=KEY, secret_key=SECRET).start()
    symbols, n, warm = ["AAA", "BBB"], 45, 7
    bars = daily_bars(symbols, n)
    spec = RunSpec(
        strategy="sma_cross",
        params={"fast": 3, "slow": 8},
        symbols=symbols,
        cash=100_000.0,
        sizer="fixed",
        sizer_params={"stake": 50},
    )  # sizes that slippage cannot change
    for s in symbols:
        fake.add_bars(s, bars[s].iloc[:warm])
    state = tmp / "paper.sqlite"
    run = SessionThread(fake, spec, str(state), backfill=warm).start(fake, symbols)
    try:
        run.wait_steps(warm)
        db = StateDB(state)
        dates = bars[symbols[0]].index
        for i in range(warm, n):
            before = len(db.fills())
            opened = [o for o in fake.orders.values() if o["status"] in OPEN]
            for o in opened:
                px = float(bars[o["symbol"]]["open"].iloc[i])
                fake.fill(o["id"], price=px * (1 + SLIP) if o["side"] == "buy" else px * (1 - SLIP))
            want = before + len(opened)
            wait_until(lambda want=want: len(db.fills()) == want, what="fills applied")
            for s in symbols:
                push_daily(fake, s, dates[i], bars[s].iloc[i])
            run.wait_steps(i + 1)
        # the publisher writes every 2 s: wait for a payload that has seen both streams connect
        wait_until(
            lambda: len(json.loads(db.get_meta("health") or "{}").get("last_message", {})) == 2,
            timeout=15,
            what="health with both streams",
        )
        health = json.loads(db.get_meta("health"))
        db.close()
    finally:
        assert run.stop() == 0
        fake.stop()
    folder = tmp / "bars"
    folder.mkdir()
    for s, df in bars.items():
        df.to_csv(folder / f"{s}.csv", index_label="date")
    return {"state": state, "bars": folder, "first_live": dates[warm], "health": health, "tmp": tmp}


def _run(args: list[str]) -> None:
    out = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert out.exit_code == 0, out.output


@pytest.fixture(scope="session")
def reports_root(tmp_path_factory):
    """One folder of each kind autostock writes, from the real commands on seeded synthetic data."""
    root = tmp_path_factory.mktemp("reports")
    common = ["--symbols", "AAA", "--start", "2020-01-01", "--end", "2021-12-31"]
    _run(["backtest", *common, "--no-pyfolio", "-o", str(root / "bt-slow")])
    _run(
        [
            "backtest",
            *common,
            "-p",
            "fast=5",
            "-p",
            "slow=20",
            "--no-pyfolio",
            "--no-tearsheet",
            "-o",
            str(root / "bt-fast"),
        ]
    )
    _run(["montecarlo", *common, "--paths", "6", "-w", "1", "--no-progress", "-o", str(root / "mc")])
    _run(
        [
            "optimize",
            *common,
            "-g",
            "fast=5,10",
            "-g",
            "slow=20,30",
            "-w",
            "1",
            "--no-progress",
            "-o",
            str(root / "opt"),
        ]
    )
    _run(
        [
            "walkforward",
            "--symbols",
            "AAA",
            "--start",
            "2017-01-01",
            "--end",
            "2020-12-31",
            "-g",
            "fast=5,10",
            "-g",
            "slow=30",
            "--train",
            "2y",
            "--test",
            "1y",
            "-w",
            "1",
            "--no-progress",
            "--no-tearsheet",
            "-o",
            str(root / "wf"),
        ]
    )
    _run(
        [
            "train",
            "-m",
            "ridge",
            "--symbols",
            "AAA",
            "--start",
            "2016-01-01",
            "--end",
            "2020-12-31",
            "--walk-forward",
            "train=300,test=100",
            "-q",
            "-o",
            str(root / "model"),
        ]
    )
    return root
