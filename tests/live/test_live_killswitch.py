"""Every kill switch: no order after the trigger, and the halt survives a restart until
``autostock resume``."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from autostock.cli import cli
from autostock.config import RunSpec
from autostock.live.killswitch import SafetyLimits
from autostock.live.runner import HaltedError
from autostock.live.state import StateDB
from tests.live.live_helpers import SessionThread, push_day, start_session, wait_until

BUY = "tests.live.live_helpers:BuyEveryBar"


def _after_trigger(fake, run, bars, db, reason_part, day):
    """The halt is recorded, the session ends by itself, and the next bar sends nothing."""
    wait_until(lambda: db.halted() is not None, what="halt")
    assert reason_part in db.halted()
    run.thread.join(10)
    assert not run.thread.is_alive() and run.code == 3
    sent = len(fake.submit_attempts)
    push_day(fake, run, bars, day, wait=False)
    time.sleep(0.2)
    assert len(fake.submit_attempts) == sent


def _halt_survives_restart_until_resume(fake, tmp_path, symbols):
    path = tmp_path / "paper.sqlite"
    spec = RunSpec(strategy=BUY, symbols=symbols)
    with pytest.raises(HaltedError, match="autostock resume"):
        SessionThread(fake, spec, str(path)).session.run()
    out = CliRunner().invoke(cli, ["status", "--state", str(path)])
    assert out.exit_code == 0 and "HALTED" in out.output
    out = CliRunner().invoke(cli, ["resume", "--state", str(path)])
    assert out.exit_code == 0 and "halt cleared" in out.output
    assert StateDB(path).halted() is None


@pytest.mark.parametrize(
    "params, limits, reason, sent",
    [
        ({"size": 10}, SafetyLimits(max_order_notional=50.0), "max order notional", 0),
        ({"size": 1, "orders_per_bar": 8}, SafetyLimits(max_orders_per_minute=3), "order-rate", 3),
    ],
    ids=["max-order-notional", "order-rate-guard"],
)
def test_order_limits_halt_on_the_first_bad_order(fake_alpaca, tmp_path, params, limits, reason, sent):
    run, bars = start_session(fake_alpaca, tmp_path, BUY, ["AAA"], params=params, limits=limits)
    try:
        push_day(fake_alpaca, run, bars, 5, wait=False)
        _after_trigger(fake_alpaca, run, bars, StateDB(tmp_path / "paper.sqlite"), reason, 6)
    finally:
        run.stop()
    assert len(fake_alpaca.submit_attempts) == sent
    _halt_survives_restart_until_resume(fake_alpaca, tmp_path, ["AAA"])


def test_max_position_halts(fake_alpaca, tmp_path):
    run, bars = start_session(fake_alpaca, tmp_path, BUY, ["AAA"], params={"size": 10}, history=5)
    price = float(bars["AAA"]["close"].iloc[5])
    run.session.killswitch.limits.max_position = 15 * price  # one order fits, two do not
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        push_day(fake_alpaca, run, bars, 5)
        oid = wait_until(lambda: next(iter(fake_alpaca.orders), None), what="first order")
        fake_alpaca.fill(oid, price=price)
        wait_until(lambda: len(db.fills()) == 1, what="fill")
        push_day(fake_alpaca, run, bars, 6, wait=False)
        _after_trigger(fake_alpaca, run, bars, db, "max position", 7)
    finally:
        run.stop()
    assert len(fake_alpaca.submit_attempts) == 1
    _halt_survives_restart_until_resume(fake_alpaca, tmp_path, ["AAA"])


def test_halt_file_halts(fake_alpaca, tmp_path):
    halt_file = tmp_path / "HALT"
    run, bars = start_session(
        fake_alpaca, tmp_path, BUY, ["AAA"], params={"size": 1}, limits=SafetyLimits(halt_file=str(halt_file))
    )
    try:
        push_day(fake_alpaca, run, bars, 5)
        wait_until(lambda: len(fake_alpaca.submit_attempts) == 1, what="first order")
        halt_file.write_text("stop")
        push_day(fake_alpaca, run, bars, 6, wait=False)
        _after_trigger(fake_alpaca, run, bars, StateDB(tmp_path / "paper.sqlite"), "halt file", 7)
    finally:
        run.stop()
    assert len(fake_alpaca.submit_attempts) == 1
    halt_file.unlink()
    _halt_survives_restart_until_resume(fake_alpaca, tmp_path, ["AAA"])


def test_max_drawdown_flattens_and_halts(fake_alpaca, tmp_path):
    fake = fake_alpaca
    run, bars = start_session(
        fake, tmp_path, BUY, ["AAA"], params={"size": 400}, limits=SafetyLimits(max_drawdown=0.05)
    )
    db = StateDB(tmp_path / "paper.sqlite")
    try:
        push_day(fake, run, bars, 5)
        oid = wait_until(lambda: next(iter(fake.orders), None), what="first order")
        price = float(bars["AAA"]["close"].iloc[5])
        fake.fill(oid, price=price)
        wait_until(lambda: len(db.fills()) == 1, what="fill")
        fake.auto_fill = True  # the flattening market order fills at the crash price
        crash = bars["AAA"].iloc[6].copy()
        crash[["open", "high", "low", "close"]] = price * 0.5
        bars["AAA"].iloc[6] = crash
        push_day(fake, run, bars, 6, wait=False)
        _after_trigger(fake, run, bars, db, "max drawdown", 7)
    finally:
        run.stop()
    assert fake.positions() == {}
    assert len(fake.submit_attempts) == 1  # the close-out is Alpaca's DELETE /v2/positions, not an order of ours
    assert any(e["kind"] == "flatten" for e in db.events(50))
    _halt_survives_restart_until_resume(fake, tmp_path, ["AAA"])
