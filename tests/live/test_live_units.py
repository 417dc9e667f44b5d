"""Pure parts of the live adapter: ids, token bucket, state database, kill switches, secrets."""

from __future__ import annotations

import io
import logging
from datetime import datetime

import pytest

from autostock.errors import ConfigError
from autostock.live import secrets
from autostock.live.ids import MAX_LEN, client_order_id
from autostock.live.killswitch import KillSwitch, OrderBlocked, SafetyLimits
from autostock.live.ratelimit import TokenBucket, reset_wait
from autostock.live.state import StateDB


class FakeClock:
    """A manual monotonic clock; ``sleep`` advances it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_client_order_id_is_deterministic_short_and_distinct():
    bar = datetime(2024, 3, 5, 16, 0)
    a = client_order_id("run1", "sma_cross", "AAPL", bar, 0)
    assert a == client_order_id("run1", "sma_cross", "AAPL", bar, 0)
    others = {
        client_order_id("run1", "sma_cross", "AAPL", bar, 1),
        client_order_id("run1", "sma_cross", "MSFT", bar, 0),
        client_order_id("run2", "sma_cross", "AAPL", bar, 0),
        client_order_id("run1", "rsi", "AAPL", bar, 0),
        client_order_id("run1", "sma_cross", "AAPL", datetime(2024, 3, 6), 0),
    }
    assert a not in others and len(others) == 5
    long = client_order_id("r" * 100, "s" * 100, "VERYLONGSYMBOL", bar, 123456)
    assert len(a) <= MAX_LEN and len(long) <= MAX_LEN


def test_token_bucket_never_exceeds_the_limit_in_any_window():
    clock = FakeClock()
    bucket = TokenBucket(limit=190, period=60.0, burst=10, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(500):
        bucket.acquire()
        times.append(clock.now)
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - 60.0:
            j += 1
        assert i - j + 1 <= 190
    assert times[-1] - times[0] > 60.0  # it really throttled


def test_token_bucket_waits_for_a_429_reset():
    clock = FakeClock()
    bucket = TokenBucket(limit=100, period=60.0, burst=5, clock=clock, sleep=clock.sleep)
    bucket.block_until(clock.now + 7.5)
    bucket.acquire()
    assert clock.now >= 1007.5


def test_reset_wait_reads_x_ratelimit_reset_as_epoch_seconds():
    assert reset_wait({"X-Ratelimit-Reset": "1012"}, now_epoch=1000.0) == 12.0
    assert reset_wait({"Retry-After": "3"}, now_epoch=0) == 3.0
    assert reset_wait({}, default=1.5) == 1.5
    assert reset_wait({"X-Ratelimit-Reset": "999999"}, now_epoch=0, cap=60) == 60


def test_bad_bucket_settings_fail_fast():
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(limit=10, burst=10)


def test_state_records_orders_once_and_fills_once(tmp_path):
    db = StateDB(tmp_path / "s.sqlite")
    row, created = db.record_order("c1", symbol="AAPL", side="buy", qty=10, type="market")
    assert created and row["status"] == "pending_submit"
    again, created2 = db.record_order("c1", symbol="AAPL", side="buy", qty=99, type="market")
    assert not created2 and again["qty"] == 10
    assert db.record_fill("e1", "c1", "AAPL", 4, 100.0)
    assert not db.record_fill("e1", "c1", "AAPL", 4, 100.0)
    assert db.record_fill("e2", "c1", "AAPL", 6, 110.0)
    order = db.get_order("c1")
    assert order["filled_qty"] == 10 and order["filled_avg_price"] == pytest.approx(106.0)
    assert db.positions()["AAPL"]["qty"] == 10
    db.record_fill("e3", "c1", "AAPL", -10, 120.0)
    assert "AAPL" not in db.positions()


def test_halt_survives_reopening_the_database_until_resume(tmp_path):
    path = tmp_path / "s.sqlite"
    db = StateDB(path)
    db.halt("test reason")
    db.close()
    db2 = StateDB(path)
    assert db2.halted() == "test reason"
    db2.snapshot_equity(100.0, 100.0)
    assert db2.resume() == "test reason"
    assert db2.equity_peak() is None  # a drawdown halt must not trip again right after resume
    assert StateDB(path).halted() is None


def test_kill_switch_blocks_notional_position_and_runaway_rate(tmp_path):
    db = StateDB(tmp_path / "s.sqlite")
    clock = FakeClock()
    ks = KillSwitch(
        db, SafetyLimits(max_order_notional=5_000, max_position=8_000, max_orders_per_minute=3), clock=clock
    )
    with pytest.raises(OrderBlocked, match="max order notional"):
        ks.check_order("AAPL", 60, 100.0, 0)
    assert "max order notional" in db.halted()
    db.resume()
    with pytest.raises(OrderBlocked, match="max position"):
        ks.check_order("AAPL", 40, 100.0, 50)
    db.resume()
    ks.check_order("AAPL", -40, 100.0, 50)  # reducing is always allowed
    ks.check_order("AAPL", 1, 100.0, 0)
    ks.check_order("AAPL", 1, 100.0, 0)
    with pytest.raises(OrderBlocked, match="order-rate guard"):
        ks.check_order("AAPL", 1, 100.0, 0)
    assert "order-rate" in db.halted()
    with pytest.raises(OrderBlocked, match="halted"):
        ks.check_order("AAPL", 1, 100.0, 0)


def test_kill_switch_halt_file_and_drawdown(tmp_path):
    db = StateDB(tmp_path / "s.sqlite")
    halt_file = tmp_path / "HALT"
    ks = KillSwitch(db, SafetyLimits(max_drawdown=0.1, halt_file=str(halt_file)))
    assert ks.halted() is None
    db.snapshot_equity(100_000, 100_000)
    assert ks.check_equity(95_000) is None
    assert "max drawdown" in ks.check_equity(89_000)
    halt_file.write_text("")
    assert "halt file" in ks.halted()
    assert db.halted() is not None  # persisted, not only while the file exists
    with pytest.raises(ConfigError, match="fraction"):
        SafetyLimits(max_drawdown=20)


def test_scrubber_removes_secrets_from_debug_records_args_and_tracebacks():
    secret = "SCRUBTESTSECRET123"
    secrets.install_scrubber([secret])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger = logging.getLogger("websockets.client.scrubtest")
    ws_logger = logging.getLogger("websockets.client")
    old_level = ws_logger.level
    for lg in (logger, ws_logger):
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        logger.debug("> TEXT %r", {"action": "authenticate", "secret_key": secret})
        try:
            raise RuntimeError(f"boom {secret}")
        except RuntimeError:
            logger.exception("failed with %s", secret)
    finally:
        for lg in (logger, ws_logger):
            lg.removeHandler(handler)
        ws_logger.setLevel(old_level)
        # websockets logs sent frames truncated: a fragment of the key must not survive either
        logging.getLogger("websockets.client").debug("> TEXT '%s' [91 bytes]", '{"a..."secret_key": "' + secret[6:])
    text = stream.getvalue()
    assert secret not in text and "***" in text and "boom" in text
    assert secret[6:] not in text
    assert secrets.mask(secret) == "SCRU****"


def test_uncaught_thread_exceptions_print_scrubbed(capsys):
    import threading

    secret = "THREADSECRET987"
    secrets.install_scrubber([secret])

    def boom():
        raise ValueError(f"leak {secret}")

    t = threading.Thread(target=boom, name="leaky")
    t.start()
    t.join()
    err = capsys.readouterr().err
    assert "leak ***" in err and secret not in err


def test_credentials_need_keys_and_the_live_flag_for_the_live_endpoint():
    from autostock.live.store import LIVE_URL, Credentials

    with pytest.raises(ConfigError, match="APCA_API_KEY_ID"):
        Credentials.from_env(environ={})
    keys = {"APCA_API_KEY_ID": "PKABCDEFGH", "APCA_API_SECRET_KEY": "s3cr3tvalue"}
    with pytest.raises(ConfigError, match="--live"):
        Credentials.from_env(environ={**keys, "APCA_API_BASE_URL": LIVE_URL})
    with pytest.raises(ConfigError, match="paper endpoint"):
        Credentials.from_env(live=True, environ={**keys, "APCA_API_BASE_URL": "https://paper-api.alpaca.markets"})
    creds = Credentials.from_env(environ=keys)
    assert "paper-api" in creds.base_url and "s3cr3tvalue" not in repr(creds) and "PKAB****" in repr(creds)
