"""The dashboard's read layer: read-only, never blocks the trader, survives missing/locked files."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time

import numpy as np
import pandas as pd
import pytest

from autostock.dashboard import data
from autostock.live.killswitch import KillSwitch
from autostock.live.state import StateDB
from tests.dashboard.helpers import EQUITY_LAST, make_state


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_live_reads_equity_positions_orders_fills_events_and_session(tmp_path):
    path = make_state(tmp_path / "s.sqlite", n_equity=50)
    view = data.load_live(path)
    assert view.ok
    assert view.n_snapshots == 50 and view.last_equity["equity"] == pytest.approx(EQUITY_LAST)
    pos = view.positions.set_index("symbol")
    assert list(pos.index) == ["AAPL"]
    assert pos.loc["AAPL", "cost_basis"] == pytest.approx(1500.0)
    assert pos.loc["AAPL", "unrealized_pnl"] == pytest.approx((155.5 - 150.0) * 10)
    assert view.open_orders["cid"].tolist() == ["run1-msft-1"]
    assert view.fills["exec_id"].tolist() == ["exec-1"] and view.fills["side"].tolist() == ["buy"]
    assert set(view.events["kind"]) >= {"start", "blocked"}
    assert view.session["strategy"] == "sma_cross" and view.halt is None


def test_drawdown_is_measured_from_the_running_peak(tmp_path):
    db = StateDB(tmp_path / "s.sqlite")
    for i, v in enumerate([100.0, 120.0, 90.0, 130.0]):
        db.snapshot_equity(v, 0.0, ts=1000.0 + i)
    db.close()
    dd = data.load_live(tmp_path / "s.sqlite").equity["drawdown"].to_numpy()
    np.testing.assert_allclose(dd, [0.0, 0.0, 90 / 120 - 1, 0.0])


def test_reading_never_changes_the_database_file(tmp_path):
    path = make_state(tmp_path / "s.sqlite")
    StateDB(path).close()  # checkpoint state as the trader leaves it
    before = _digest(path)
    for _ in range(3):
        data.load_live(path)
    assert _digest(path) == before


def test_the_read_only_connection_refuses_writes(tmp_path):
    path = make_state(tmp_path / "s.sqlite")
    conn = data.connect_ro(path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM meta")
    conn.close()


def test_a_missing_database_gives_a_notice_and_is_not_created(tmp_path):
    view = data.load_live(tmp_path / "nope.sqlite")
    assert not view.ok and "no state database" in view.notice
    assert not (tmp_path / "nope.sqlite").exists()


def test_a_file_that_is_not_a_database_gives_a_notice(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not sqlite at all " * 100)
    view = data.load_live(bad)
    assert not view.ok and "cannot read state database" in view.notice


def test_an_exclusively_locked_database_gives_a_locked_notice(tmp_path):
    path = make_state(tmp_path / "s.sqlite")
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
    try:
        view = data.load_live(path)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert not view.ok and "locked" in view.notice


def test_an_open_dashboard_read_never_blocks_the_trader_writing(tmp_path):
    path = make_state(tmp_path / "s.sqlite")
    reader = data.connect_ro(path)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM equity").fetchone()  # holds a read snapshot open
    trader = StateDB(path)
    t0 = time.monotonic()
    trader.snapshot_equity(1.0, 1.0)
    trader.event("bar", "written while the dashboard reads")
    elapsed = time.monotonic() - t0
    reader.execute("COMMIT")
    reader.close()
    trader.close()
    assert elapsed < 1.0  # a blocked writer would wait for its busy timeout
    assert data.load_live(path).events["message"].iloc[0] == "written while the dashboard reads"


def test_reads_during_continuous_writes_always_see_a_consistent_database(tmp_path):
    path = make_state(tmp_path / "s.sqlite", n_equity=10)
    stop = threading.Event()

    def write() -> None:
        db = StateDB(path)
        i = 0
        while not stop.is_set():
            db.snapshot_equity(100_000.0 + i, 50_000.0)
            i += 1
        db.close()

    t = threading.Thread(target=write)
    t.start()
    try:
        counts = [data.load_live(path).n_snapshots for _ in range(20)]
    finally:
        stop.set()
        t.join()
    assert all(c >= 10 for c in counts) and counts == sorted(counts)


def test_downsample_keeps_extremes_and_leaves_the_frame_untouched():
    rng = np.random.default_rng(1)
    eq = pd.DataFrame(
        {"equity": 100 + rng.normal(0, 1, 10_000).cumsum()},
        index=pd.date_range("2024-01-01", periods=10_000, freq="min"),
    )
    original = eq.copy()
    small = data.downsample(eq, max_points=400)
    assert len(small) <= 400
    assert small["equity"].max() == eq["equity"].max() and small["equity"].min() == eq["equity"].min()
    assert small.index[0] == eq.index[0] and small.index[-1] == eq.index[-1]
    pd.testing.assert_frame_equal(eq, original)


def test_short_series_are_not_downsampled():
    eq = pd.DataFrame({"equity": [1.0, 2.0, 3.0]})
    assert data.downsample(eq, max_points=10) is eq


def test_stream_ages_and_request_rate_come_from_the_published_health():
    health = {
        "last_message": {"trade": 990.0, "data": 998.5},
        "reconnects": {"trade": 1, "data": 3},
        "requests_last_minute": 150,
        "client_limit_per_minute": 190,
        "rate_limited": 2,
    }
    ages = data.stream_health(health, now=1000.0).set_index("stream")["age_s"]
    assert ages.to_dict() == {"data": 1.5, "trade": 10.0}
    rate = data.request_rate(health)
    assert rate["used"] == 150 and rate["limit"] == 200 and rate["fraction"] == pytest.approx(0.75)
    assert data.request_rate({}) is None


def test_killswitch_rows_show_the_distance_to_the_drawdown_trip(tmp_path):
    path = make_state(tmp_path / "s.sqlite")
    view = data.load_live(path)
    rows = data.killswitch_rows(view).set_index("limit")
    peak = view.equity_peak
    dd = 1 - EQUITY_LAST / peak
    assert rows.loc["max drawdown", "current"] == f"{dd:.2%}"
    assert rows.loc["max drawdown", "distance"].startswith(f"{0.2 - dd:.2%}")
    assert rows.loc["max position", "current"] == f"{10 * 155.5:,.2f}"
    assert rows.loc["orders per minute", "armed"] == "30"


def test_halt_sets_the_same_persistent_halt_the_kill_switch_reads(tmp_path):
    path = make_state(tmp_path / "s.sqlite")
    reason = data.halt_trading(path, "halted from the dashboard (test)")
    db = StateDB(path)
    assert KillSwitch(db).halted() == reason == "halted from the dashboard (test)"
    assert db.events(1, kind="halt")[0]["message"] == "halted from the dashboard (test)"
    db.close()


def test_halt_keeps_the_first_reason_of_an_already_halted_account(tmp_path):
    path = make_state(tmp_path / "s.sqlite", halted="max drawdown: kill switch")
    assert data.halt_trading(path) == "max drawdown: kill switch"


def test_halt_refuses_a_missing_database_without_creating_it(tmp_path):
    with pytest.raises(data.StateUnavailable, match="nothing to halt"):
        data.halt_trading(tmp_path / "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()


def test_event_text_holding_a_registered_secret_is_scrubbed(tmp_path):
    from tests.dashboard.helpers import SECRET

    path = make_state(tmp_path / "s.sqlite", secret_event=True)
    data.register_env_secrets({"APCA_API_SECRET_KEY": SECRET})
    messages = " ".join(data.load_live(path).events["message"])
    assert SECRET not in messages and "***" in messages


def test_a_cached_refresh_reads_only_new_snapshots_and_equals_a_full_read(tmp_path):
    path = make_state(tmp_path / "s.sqlite", n_equity=20)
    cache = data.EquityCache()
    first = data.load_live(path, cache=cache)
    db = StateDB(path)
    for v in (90_000.0, 120_000.0):
        db.snapshot_equity(v, 1.0)
    db.close()
    again = data.load_live(path, cache=cache)
    full = data.load_live(path)
    assert len(first.equity) == 20 and cache.last_rowid == 22
    pd.testing.assert_frame_equal(again.equity, full.equity)


def test_the_equity_cache_is_rebuilt_when_the_database_is_replaced_or_a_row_is_older(tmp_path):
    path = make_state(tmp_path / "s.sqlite", n_equity=20)
    cache = data.EquityCache()
    data.load_live(path, cache=cache)
    db = StateDB(path)
    db.snapshot_equity(1.0, 1.0, ts=0.0)  # older than every cached row
    db.close()
    pd.testing.assert_frame_equal(data.load_live(path, cache=cache).equity, data.load_live(path).equity)
    path.unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"s.sqlite{suffix}").unlink(missing_ok=True)
    make_state(path, n_equity=5)
    assert data.load_live(path, cache=cache).n_snapshots == 5


def test_a_path_with_uri_characters_is_opened_read_only(tmp_path):
    odd = tmp_path / "my state #1?x=y"
    odd.mkdir()
    path = make_state(odd / "paper.sqlite", n_equity=3)
    assert data.load_live(path).n_snapshots == 3
