"""The live state database (SQLite, stdlib): orders, fills, positions, equity, events, halt.

An order row is written *before* its request is sent, so a crash at any point leaves a record
of every id that may exist at the broker. Fills are keyed by execution id, so a replayed event
is applied once. The halt flag survives restarts until ``autostock resume`` clears it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Literal

from autostock.errors import UserError
from autostock.live.secrets import scrub


class StateError(UserError):
    """The state database cannot be read or written (corrupt, read-only, disk full)."""


def _connect(path: str, readonly: bool) -> sqlite3.Connection:
    if readonly:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
    return sqlite3.connect(path, check_same_thread=False, isolation_level=None)


OPEN_STATUSES = (
    "pending_submit",
    "submitted",
    "new",
    "accepted",
    "pending_new",
    "accepted_for_bidding",
    "partially_filled",
    "pending_cancel",
    "pending_replace",
    "held",
    "calculated",
    "done_for_day",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    cid TEXT PRIMARY KEY, run_id TEXT, strategy TEXT, symbol TEXT NOT NULL, side TEXT NOT NULL,
    qty REAL NOT NULL, type TEXT NOT NULL, limit_price REAL, stop_price REAL, tif TEXT,
    bar_time TEXT, order_class TEXT, parent_cid TEXT, leg TEXT,
    status TEXT NOT NULL, alpaca_id TEXT, filled_qty REAL NOT NULL DEFAULT 0,
    filled_avg_price REAL, managed INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS orders_alpaca ON orders(alpaca_id);
CREATE INDEX IF NOT EXISTS orders_symbol_status ON orders(symbol, status);
CREATE TABLE IF NOT EXISTS fills (
    exec_id TEXT PRIMARY KEY, cid TEXT NOT NULL, symbol TEXT NOT NULL, qty REAL NOT NULL,
    price REAL NOT NULL, ts REAL NOT NULL, source TEXT);
CREATE TABLE IF NOT EXISTS positions (
    symbol TEXT PRIMARY KEY, qty REAL NOT NULL, avg_price REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS equity (ts REAL NOT NULL, equity REAL NOT NULL, cash REAL NOT NULL);
CREATE TABLE IF NOT EXISTS strategy_state (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, level TEXT NOT NULL, kind TEXT NOT NULL,
    message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StateDB:
    """One SQLite file per account mode (paper and live never share a file).

    Parameters
    ----------
    path : str or Path
        Database file; parent folders are created. ``:memory:`` works for experiments.
    readonly : bool
        Open an existing file for reading only (``autostock status``): nothing is created or
        written.

    A database that cannot be read or written raises :class:`StateError` (one line naming
    the file and the problem), never a raw ``sqlite3`` error.
    """

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = str(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        try:
            if self.path != ":memory:" and not readonly:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = _connect(self.path, readonly)
            self._conn.row_factory = sqlite3.Row
            with self._lock:
                if readonly:
                    self._conn.execute("SELECT count(*) FROM meta").fetchone()
                else:
                    self._conn.execute("PRAGMA journal_mode=WAL")
                    self._conn.execute("PRAGMA synchronous=FULL")
                    self._conn.executescript(_SCHEMA)
                    self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', '1')")
        except (sqlite3.Error, OSError) as exc:
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> StateError:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = {
            "file is not a database": "corrupt or not a state database",
            "attempt to write a readonly database": "read-only",
            "database or disk is full": "disk full",
        }.get(text, "")
        return StateError(f"state database {self.path}: {text}{f' ({hint})' if hint else ''}")

    # -- plumbing ------------------------------------------------------------------------
    def _tx(self) -> _Tx:
        return _Tx(self)

    def _rows(self, sql: str, args: tuple = ()) -> list[dict]:
        with self._lock:
            try:
                return [dict(r) for r in self._conn.execute(sql, args).fetchall()]
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- orders --------------------------------------------------------------------------
    def record_order(
        self,
        cid: str,
        *,
        symbol: str,
        side: str,
        qty: float,
        type: str,
        run_id: str = "",
        strategy: str = "",
        limit_price: float | None = None,
        stop_price: float | None = None,
        tif: str | None = None,
        bar_time: str | None = None,
        order_class: str | None = None,
        parent_cid: str | None = None,
        leg: str | None = None,
        status: str = "pending_submit",
        alpaca_id: str | None = None,
        managed: bool = True,
    ) -> tuple[dict, bool]:
        """Insert an order row (committed before returning). Returns ``(row, created)``;
        an existing row with the same id is returned untouched with ``created=False``."""
        now = time.time()
        with self._tx() as c:
            existing = c.execute("SELECT * FROM orders WHERE cid=?", (cid,)).fetchone()
            if existing is not None:
                return dict(existing), False
            c.execute(
                "INSERT INTO orders (cid, run_id, strategy, symbol, side, qty, type, limit_price, stop_price, tif,"
                " bar_time, order_class, parent_cid, leg, status, alpaca_id, managed, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    cid,
                    run_id,
                    strategy,
                    symbol,
                    side,
                    float(qty),
                    type,
                    limit_price,
                    stop_price,
                    tif,
                    bar_time,
                    order_class,
                    parent_cid,
                    leg,
                    status,
                    alpaca_id,
                    int(managed),
                    now,
                    now,
                ),
            )
            row = c.execute("SELECT * FROM orders WHERE cid=?", (cid,)).fetchone()
        return dict(row), True

    def get_order(self, cid: str) -> dict | None:
        rows = self._rows("SELECT * FROM orders WHERE cid=?", (cid,))
        return rows[0] if rows else None

    def order_by_alpaca_id(self, alpaca_id: str) -> dict | None:
        rows = self._rows("SELECT * FROM orders WHERE alpaca_id=?", (alpaca_id,))
        return rows[0] if rows else None

    def update_order(self, cid: str, **fields: Any) -> None:
        if not fields:
            return
        allowed = {"status", "alpaca_id", "filled_avg_price", "managed", "qty", "limit_price", "stop_price"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"cannot update order field(s) {sorted(bad)}")
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._tx() as c:
            c.execute(f"UPDATE orders SET {cols}, updated_at=? WHERE cid=?", (*fields.values(), time.time(), cid))

    def open_orders(self) -> list[dict]:
        marks = ",".join("?" * len(OPEN_STATUSES))
        return self._rows(f"SELECT * FROM orders WHERE status IN ({marks}) ORDER BY created_at", OPEN_STATUSES)

    def open_quantity(self, symbol: str) -> tuple[float, float]:
        """Unfilled shares of ``symbol``'s open orders, ``(buys, sells)``; bracket legs (exits)
        are not counted."""
        marks = ",".join("?" * len(OPEN_STATUSES))
        rows = self._rows(
            f"SELECT side, SUM(MAX(qty - filled_qty, 0)) AS left FROM orders WHERE symbol=? AND "
            f"parent_cid IS NULL AND status IN ({marks}) GROUP BY side",
            (symbol, *OPEN_STATUSES),
        )
        got = {r["side"]: float(r["left"] or 0.0) for r in rows}
        return got.get("buy", 0.0), got.get("sell", 0.0)

    def orders(self, limit: int | None = None) -> list[dict]:
        sql = "SELECT * FROM orders ORDER BY created_at, cid"
        return self._rows(sql + (f" LIMIT {int(limit)}" if limit else ""))

    # -- fills and positions -------------------------------------------------------------
    def record_fill(
        self,
        exec_id: str,
        cid: str,
        symbol: str,
        qty: float,
        price: float,
        ts: float | None = None,
        source: str = "stream",
    ) -> bool:
        """Apply one fill (signed ``qty``) to its order and the position, atomically.

        Returns False, changing nothing, when ``exec_id`` was already recorded.
        """
        ts = time.time() if ts is None else ts
        with self._tx() as c:
            if c.execute("SELECT 1 FROM fills WHERE exec_id=?", (exec_id,)).fetchone():
                return False
            c.execute(
                "INSERT INTO fills (exec_id, cid, symbol, qty, price, ts, source) VALUES (?,?,?,?,?,?,?)",
                (exec_id, cid, symbol, qty, price, ts, source),
            )
            o = c.execute("SELECT filled_qty, filled_avg_price FROM orders WHERE cid=?", (cid,)).fetchone()
            if o is not None:
                done = o["filled_qty"] or 0.0
                avg = o["filled_avg_price"] or 0.0
                new = done + abs(qty)
                c.execute(
                    "UPDATE orders SET filled_qty=?, filled_avg_price=?, updated_at=? WHERE cid=?",
                    (new, (avg * done + price * abs(qty)) / new, ts, cid),
                )
            p = c.execute("SELECT qty, avg_price FROM positions WHERE symbol=?", (symbol,)).fetchone()
            old_qty, old_avg = (p["qty"], p["avg_price"]) if p else (0.0, 0.0)
            new_qty = old_qty + qty
            if abs(new_qty) < 1e-9:
                new_qty, new_avg = 0.0, 0.0
            elif old_qty == 0 or (old_qty > 0) != (new_qty > 0):
                new_avg = price
            elif (qty > 0) == (old_qty > 0):
                new_avg = (old_qty * old_avg + qty * price) / new_qty
            else:
                new_avg = old_avg
            c.execute(
                "INSERT INTO positions (symbol, qty, avg_price, updated_at) VALUES (?,?,?,?)"
                " ON CONFLICT(symbol) DO UPDATE SET qty=excluded.qty, avg_price=excluded.avg_price,"
                " updated_at=excluded.updated_at",
                (symbol, new_qty, new_avg, ts),
            )
        return True

    def fills(self, cid: str | None = None) -> list[dict]:
        if cid is None:
            return self._rows("SELECT * FROM fills ORDER BY ts, exec_id")
        return self._rows("SELECT * FROM fills WHERE cid=? ORDER BY ts, exec_id", (cid,))

    def symbols_filled_since(self, ts: float) -> set[str]:
        """Symbols with a fill recorded at or after epoch seconds ``ts``."""
        return {r["symbol"] for r in self._rows("SELECT DISTINCT symbol FROM fills WHERE ts >= ?", (ts,))}

    def positions(self) -> dict[str, dict]:
        return {r["symbol"]: r for r in self._rows("SELECT * FROM positions WHERE qty != 0 ORDER BY symbol")}

    def set_position(self, symbol: str, qty: float, avg_price: float) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO positions (symbol, qty, avg_price, updated_at) VALUES (?,?,?,?)"
                " ON CONFLICT(symbol) DO UPDATE SET qty=excluded.qty, avg_price=excluded.avg_price,"
                " updated_at=excluded.updated_at",
                (symbol, float(qty), float(avg_price), time.time()),
            )

    # -- equity, strategy state, events ---------------------------------------------------
    def snapshot_equity(self, equity: float, cash: float, ts: float | None = None) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO equity (ts, equity, cash) VALUES (?,?,?)",
                (time.time() if ts is None else ts, float(equity), float(cash)),
            )
            peak = c.execute("SELECT value FROM meta WHERE key='equity_peak'").fetchone()
            if peak is None or float(peak["value"]) < equity:
                c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('equity_peak', ?)", (repr(float(equity)),))

    def equity_peak(self) -> float | None:
        v = self.get_meta("equity_peak")
        return float(v) if v is not None else None

    def last_equity(self) -> dict | None:
        rows = self._rows("SELECT * FROM equity ORDER BY ts DESC LIMIT 1")
        return rows[0] if rows else None

    def save_strategy_state(self, run_id: str, key: str, value: Any) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO strategy_state (run_id, key, value) VALUES (?,?,?)",
                (run_id, key, json.dumps(value, default=str)),
            )

    def save_strategy_states(self, run_id: str, values: dict[str, Any]) -> None:
        """Several strategy-state keys in one transaction (one commit per live bar)."""
        with self._tx() as c:
            c.executemany(
                "INSERT OR REPLACE INTO strategy_state (run_id, key, value) VALUES (?,?,?)",
                [(run_id, k, json.dumps(v, default=str)) for k, v in values.items()],
            )

    def load_strategy_state(self, run_id: str) -> dict[str, Any]:
        return {
            r["key"]: json.loads(r["value"])
            for r in self._rows("SELECT key, value FROM strategy_state WHERE run_id=?", (run_id,))
        }

    def event(self, kind: str, message: str, level: str = "info") -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO events (ts, level, kind, message) VALUES (?,?,?,?)",
                (time.time(), level, kind, scrub(message)),
            )

    def events(self, limit: int = 20, kind: str | None = None) -> list[dict]:
        if kind:
            rows = self._rows("SELECT * FROM events WHERE kind=? ORDER BY id DESC LIMIT ?", (kind, limit))
        else:
            rows = self._rows("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))
        return rows[::-1]

    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?,?)", (key, value))

    # -- halt ----------------------------------------------------------------------------
    def halt(self, reason: str) -> None:
        """Set the persistent halt flag (first reason wins) and log an event."""
        if self.halted() is None:
            self.set_meta("halt", scrub(reason))
        self.event("halt", reason, level="error")

    def halted(self) -> str | None:
        """The halt reason, or None when trading is allowed."""
        return self.get_meta("halt")

    def resume(self) -> str | None:
        """Clear the halt flag and restart the drawdown peak from the next equity snapshot
        (otherwise a drawdown halt would trip again at once); returns the halt reason."""
        reason = self.halted()
        with self._tx() as c:
            c.execute("DELETE FROM meta WHERE key IN ('halt', 'equity_peak')")
        if reason is not None:
            self.event("resume", f"halt cleared (was: {reason})")
        return reason


class _Tx:
    def __init__(self, db: StateDB) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db._lock.acquire()
        try:
            self.db._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self.db._lock.release()
            raise self.db._error(exc) from None
        return self.db._conn

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        try:
            try:
                self.db._conn.execute("ROLLBACK" if exc_type else "COMMIT")
            except sqlite3.Error as err:
                if self.db._conn.in_transaction:
                    try:
                        self.db._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                if exc_type is None:
                    raise self.db._error(err) from None
            if exc_type is not None and issubclass(exc_type, sqlite3.Error):
                raise self.db._error(exc) from None
        finally:
            self.db._lock.release()
        return False
